//! Differential tests of the INT8 depthwise kernel's two paths (byte planes in tap quads, 32-bit planes)
//! against `conv_i8_reference`, bit for bit, at the edges of the int8 range.
use super::bytes::{quads, taps_portable};
use super::*;
use crate::random::SplitMix64;
use crate::sim::gemm_i8::{depthwise_quads, has_vbmi_vnni};
use crate::sim::int8::conv_i8_reference;
use accel_ops::op::Conv;
use proptest::prelude::*;

/// Random bytes, a quarter of them at the ends of the int8 range (saturation).
fn i8s(rng: &mut SplitMix64, n: usize) -> Vec<i8> {
    (0..n)
        .map(|_| match rng.next_u64() % 8 {
            0 => i8::MIN,
            1 => i8::MAX,
            _ => (rng.next_u64() >> 56) as u8 as i8,
        })
        .collect()
}

/// Both paths (the byte one only where the CPU runs it) against the reference.
fn check(g: &ConvGeom, seed: u64, zero: i8, bias: bool) -> Result<(), TestCaseError> {
    let mut rng = SplitMix64::new(seed);
    let x = i8s(&mut rng, g.in_c * g.in_h * g.in_w);
    let w = i8s(&mut rng, g.out_c * g.kernel[0] * g.kernel[1]);
    let b: Vec<i32> = (0..g.out_c).map(|_| rng.next_u64() as i32).collect();
    let bias = bias.then_some(b.as_slice());
    let n = g.out_c * g.out_h * g.out_w;
    let mut want = vec![9i32; n];
    conv_i8_reference(g, &x, zero, &w, bias, &mut want).map_err(TestCaseError::fail)?;
    for bytes in [false, true] {
        if bytes && !has_vbmi_vnni() {
            continue;
        }
        let mut got = vec![7i32; n];
        depthwise_i8_on(g, &x, zero, &w, bias, &mut got, bytes);
        prop_assert_eq!(&got, &want, "bytes {}", bytes);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    /// Random depthwise geometries (strides beyond the kernel, dilations, padding on any side, planes from 1x1
    /// to several vector steps wide, stripes shorter than the full output), zero points anywhere in int8.
    #[test]
    fn both_paths_match_the_reference(
        (c, h, w) in (1usize..6, 1usize..24, 1usize..70),
        (kh, kw, sh, sw) in (1usize..6, 1usize..6, 1usize..5, 1usize..5),
        (dh, dw, pads) in (1usize..4, 1usize..4, [0usize..5, 0usize..5, 0usize..5, 0usize..5]),
        (shorter, seed, zero) in (0usize..3, any::<u64>(), prop_oneof![Just(-128i8), Just(127i8), any::<i8>()]),
    ) {
        let [pt, pl, pb, pr] = pads;
        let (Some(full_h), Some(out_w)) =
            (Conv::out_dim(h, pt, pb, kh, sh, dh), Conv::out_dim(w, pl, pr, kw, sw, dw)) else {
            return Ok(());
        };
        let g = ConvGeom {
            in_c: c,
            in_h: h,
            in_w: w,
            out_c: c,
            out_h: full_h.saturating_sub(shorter).max(1),
            out_w,
            kernel: [kh, kw],
            stride: [sh, sw],
            dilation: [dh, dw],
            pad: [pt, pl],
            groups: c,
        };
        check(&g, seed, zero, seed % 3 != 0)?;
    }
}

/// ShuffleNet's shapes: 3x3 at stride 1 and 2 on 7x7, 4x14 stripes and 14x14, enough channels for the
/// parallel split, every extreme zero point.
#[test]
fn shufflenet_shapes_match_the_reference() {
    for (c, (h, w), s, pad, (oh, ow)) in [
        (272, (6, 14), 1, [0, 1], (4, 14)),
        (272, (7, 7), 1, [1, 1], (7, 7)),
        (136, (9, 28), 2, [1, 1], (4, 14)),
        (4096, (16, 16), 1, [1, 1], (16, 16)),
    ] {
        let g = ConvGeom {
            in_c: c,
            in_h: h,
            in_w: w,
            out_c: c,
            out_h: oh,
            out_w: ow,
            kernel: [3, 3],
            stride: [s, s],
            dilation: [1, 1],
            pad,
            groups: c,
        };
        for zero in [-128i8, -1, 0, 127] {
            check(&g, c as u64 + zero as u64, zero, true).unwrap();
        }
    }
}

/// The quad kernel against its one-at-a-time twin on random bytes, quads and row layouts (rows of every width
/// up to past two steps, pitches from the width up): the same outputs; a layout it cannot take is refused.
#[test]
fn quad_kernel_matches_its_portable_twin() {
    if !has_vbmi_vnni() {
        return;
    }
    let mut rng = SplitMix64::new(11);
    for width in 1..40 {
        for (rows, extra) in [(0, 0), (1, 0), (3, 2), (2, 17)] {
            let pitch = width + extra;
            let planes: Vec<u8> = i8s(&mut rng, 600).into_iter().map(|v| v as u8).collect();
            let quads: Vec<(usize, i32)> = (0..width % 5 + 1)
                .map(|_| {
                    let w = i32::from_le_bytes(std::array::from_fn(|_| i8s(&mut rng, 1)[0] as u8));
                    ((rng.next_u64() % 200) as usize, w)
                })
                .collect();
            let init = rng.next_u64() as i32;
            let (mut got, mut want) = (vec![5i32; rows * width], vec![6i32; rows * width]);
            assert!(depthwise_quads(&planes, &quads, init, &mut got, (width, pitch)), "width {width} rows {rows}");
            taps_portable(&planes, &quads, init, &mut want, (width, pitch));
            assert_eq!(got, want, "width {width} rows {rows} pitch {pitch}");
        }
        // A quad whose last step would read past the planes, a width above the pitch, a width that does not
        // divide the outputs: refused, nothing written.
        let planes = vec![0u8; 300];
        let mut untouched = vec![3i32; 2 * width];
        assert!(!depthwise_quads(&planes, &[(300 - 64 - width + 1, 1)], 0, &mut untouched, (width, width)));
        assert!(!depthwise_quads(&planes, &[(0, 1)], 0, &mut untouched, (width, width - 1)));
        if width >= 2 {
            assert!(!depthwise_quads(&planes, &[(0, 1)], 0, &mut untouched[..width + 1], (width, width)));
        }
        assert!(untouched.iter().all(|&v| v == 3));
    }
}

/// A 3x3 kernel's taps group by rows at stride 1 (three quads of three), and by phase rows at stride 2.
#[test]
fn taps_group_into_quads_of_consecutive_offsets() {
    let geom = |s: usize| ConvGeom {
        in_c: 1,
        in_h: 14,
        in_w: 14,
        out_c: 1,
        out_h: 14 / s,
        out_w: 14 / s,
        kernel: [3, 3],
        stride: [s, s],
        dilation: [1, 1],
        pad: [1, 1],
        groups: 1,
    };
    let q1 = quads(&Plan::new(&geom(1)).unwrap());
    let filled: Vec<usize> = q1.iter().map(|q| q.slots.iter().flatten().count()).collect();
    assert_eq!(filled, [3, 3, 3]);
    let q2 = quads(&Plan::new(&geom(2)).unwrap());
    assert_eq!(q2.iter().map(|q| q.slots.iter().flatten().count()).sum::<usize>(), 9);
    assert_eq!(q2.len(), 6);
}

/// The masked row copy into byte planes, at strides 1 and 2, for rows of every length up to past two steps,
/// from sources of exactly the bytes the row needs and longer: the bytes beyond the row stay as they were.
#[test]
fn row_flips_match_the_byte_loop() {
    let mut rng = SplitMix64::new(17);
    let src = i8s(&mut rng, 400);
    for stride in [1usize, 2] {
        for n in 0..140 {
            let need = if n == 0 { 0 } else { (n - 1) * stride + 1 };
            for extra in [0usize, 1, 70] {
                let s = &src[..need + extra];
                let mut got = vec![0x5au8; n + 9];
                if !crate::sim::gemm_i8::flip_row(&mut got[..n], s, stride) {
                    return;
                }
                let mut want = vec![0x5au8; n + 9];
                for (j, d) in want[..n].iter_mut().enumerate() {
                    *d = s[j * stride] as u8 ^ 0x80;
                }
                assert_eq!(got, want, "stride {stride} n {n} extra {extra}");
            }
            // A source one byte short is refused.
            if need > 0 {
                assert!(!crate::sim::gemm_i8::flip_row(&mut [0u8; 140][..n], &src[..need - 1], stride));
            }
        }
    }
}
