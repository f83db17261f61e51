//! The LayerNorm lowering against the ops reference: normalized over one or several trailing axes, scale and
//! bias of the full normalized shape or broadcast, no bias, rows of one element and empty tensors.
use super::{check, Rng, REASSOCIATED};
use crate::op::{LayerNorm, Op};

/// Input shape, first normalized axis, scale shape and bias shape (if any).
type Case<'a> = (&'a [usize], usize, &'a [usize], Option<&'a [usize]>);

#[test]
fn layer_norm_matches_the_reference() {
    let mut rng = Rng::new(11);
    let cases: &[Case] = &[
        (&[1, 4, 16], 2, &[16], Some(&[16])),
        (&[2, 3, 5], 1, &[3, 5], Some(&[5])),
        (&[2, 3, 5], 1, &[3, 1], None),
        (&[3, 7], 0, &[], Some(&[1, 7])),
        (&[4, 1], 1, &[1], Some(&[1])),
        (&[2, 33], 1, &[33], None),
        (&[0, 3], 1, &[3], Some(&[3])),
    ];
    for &(x, axis, scale, bias) in cases {
        let mut inputs = vec![rng.tensor(x, -3.0, 3.0), rng.tensor(scale, 0.5, 1.5)];
        if let Some(bd) = bias {
            inputs.push(rng.tensor(bd, -1.0, 1.0));
        }
        check(&Op::LayerNorm(LayerNorm { axis, epsilon: 1e-5 }), &inputs, REASSOCIATED);
    }
}
