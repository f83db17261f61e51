//! The f32 pool kernel against `Pool::window` bit for bit: random windows (1x1 to wider than the plane,
//! strides 1 to 4, pads on one side only, windows of padding only, global pools), every kind, planes wide
//! enough for long vectorized runs with remainders, blocks of 1 to 19 planes, and inputs with NaN, infinities and signed zeros.
use super::*;
use crate::random::SplitMix64;

/// Random values with a sprinkling of the special ones a max or a sum must carry through.
fn values(rng: &mut SplitMix64, n: usize) -> Vec<f32> {
    let special = [f32::NAN, f32::INFINITY, f32::NEG_INFINITY, 0.0, -0.0, f32::MAX, -f32::MAX, 1e-40];
    (0..n)
        .map(|_| {
            let r = rng.next_u64();
            if r % 16 == 0 {
                special[(r >> 8) as usize % special.len()]
            } else {
                rng.uniform() * 8.0 - 4.0
            }
        })
        .collect()
}

#[test]
fn f32_pool_kernel_matches_the_definition_on_random_windows() {
    let mut rng = SplitMix64::new(91);
    let kinds = [PoolKind::Max, PoolKind::Avg { count_include_pad: false }, PoolKind::Avg { count_include_pad: true }];
    let mut checked = 0;
    for _ in 0..2000 {
        let mut n = |m: u64| (rng.next_u64() % m) as usize;
        let (h, w) = if n(5) == 0 { (1 + n(40), 1 + n(90)) } else { (1 + n(12), 1 + n(24)) };
        let kernel = if n(5) == 0 { [h, w] } else { [1 + n(5), 1 + n(5)] };
        let (strides, pads) = ([1 + n(4), 1 + n(4)], [n(4), n(4), n(4), n(4)]);
        let kind = kinds[n(3)];
        let pool = Pool { kind, kernel, strides, pads };
        let Some((oh, ow)) = pool.out_hw(h, w) else { continue };
        // Beyond 8 planes, window-by-window pools take 8 planes at a time, and the rest one by one.
        let (c, negative) = (if n(3) == 0 { 8 + n(12) } else { 1 + n(3) }, n(4) == 0);
        let mut x = values(&mut rng, c * h * w);
        if negative {
            // A max of negative values only: an accumulator that starts at 0 would show.
            x.iter_mut().for_each(|v| *v = -v.abs() - 1.0);
        }
        let mut want = Vec::with_capacity(c * oh * ow);
        for xp in x.chunks(h * w) {
            for oy in 0..oh {
                for ox in 0..ow {
                    want.push(pool.window(xp, h, w, oy, ox));
                }
            }
        }
        let g = PoolGeom { c, in_h: h, in_w: w, out_h: oh, out_w: ow, kernel, stride: strides, pads };
        let mut got = vec![f32::NAN; c * oh * ow];
        pool_f32(kind, &g, &x, &mut got).unwrap();
        for (i, (y, v)) in got.iter().zip(&want).enumerate() {
            let same = y.to_bits() == v.to_bits() || (y.is_nan() && v.is_nan());
            assert!(same, "{pool:?} {c}x{h}x{w}: element {i}: got {y:e}, want {v:e}");
        }
        checked += 1;
    }
    assert!(checked > 1300, "{checked} cases");
}

/// Large blocks take the parallel path over planes; it gives the same bits.
#[test]
fn f32_pool_kernel_parallel_planes_match_the_definition() {
    let mut rng = SplitMix64::new(92);
    let (c, h, w) = (40, 35, 47);
    let pool = Pool { kind: PoolKind::Avg { count_include_pad: false }, kernel: [3, 3], strides: [2, 2], pads: [1; 4] };
    let (oh, ow) = ((h + 2 - 3) / 2 + 1, (w + 2 - 3) / 2 + 1);
    let x = values(&mut rng, c * h * w);
    let g = PoolGeom { c, in_h: h, in_w: w, out_h: oh, out_w: ow, kernel: [3, 3], stride: [2, 2], pads: [1; 4] };
    let mut got = vec![0.0; c * oh * ow];
    pool_f32(pool.kind, &g, &x, &mut got).unwrap();
    for (p, (yp, xp)) in got.chunks(oh * ow).zip(x.chunks(h * w)).enumerate() {
        for (i, y) in yp.iter().enumerate() {
            let want = pool.window(xp, h, w, i / ow, i % ow);
            assert!(y.to_bits() == want.to_bits() || (y.is_nan() && want.is_nan()), "plane {p} element {i}");
        }
    }
}
