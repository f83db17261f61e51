//! The int8 pool kernel against `numerics::pool` bit for bit: random windows (1x1 to wider than the plane,
//! strides, pads on one side only, windows of padding only, global pools), every kind, and requantization
//! parameters from the identity to the extremes a hostile blob may carry.
use super::*;
use crate::random::SplitMix64;
use accel_ops::numerics::pool::eval;

fn random_quant(rng: &mut SplitMix64) -> PoolQuant {
    let pick = |rng: &mut SplitMix64, v: &[i32]| v[(rng.next_u64() % v.len() as u64) as usize];
    let r = rng.next_u64() as i32;
    PoolQuant {
        x_zero: pick(rng, &[0, -128, 127, 5, -300, i32::MIN, r]),
        y_zero: pick(rng, &[0, -128, 127, -7, 1 << 20, i32::MAX]),
        mult: pick(rng, &[1 << 30, i32::MAX, i32::MIN, 0, 1, -3, r | 1]),
        shift: pick(rng, &[1, 0, -1, -31, 30, -1000, 1000, -20]),
    }
}

#[test]
fn int8_pool_kernel_matches_numerics_on_random_windows() {
    let mut rng = SplitMix64::new(77);
    let kinds = [PoolKind::Max, PoolKind::Avg { count_include_pad: false }, PoolKind::Avg { count_include_pad: true }];
    let mut checked = 0;
    for case in 0..3000 {
        let mut n = |m: u64| (rng.next_u64() % m) as usize;
        let (h, w) = (1 + n(12), 1 + n(12));
        let kernel = if case % 10 == 0 { [h, w] } else { [1 + n(5), 1 + n(5)] };
        let (strides, pads) = ([1 + n(3), 1 + n(3)], [n(4), n(4), n(4), n(4)]);
        let kind = kinds[case % 3];
        let pool = Pool { kind, kernel, strides, pads };
        let Some((oh, ow)) = pool.out_hw(h, w) else { continue };
        let c = 1 + n(3);
        let x: Vec<i8> = (0..c * h * w).map(|_| rng.next_u64() as i8).collect();
        let q = if case % 4 == 0 {
            PoolQuant::identity((rng.next_u64() % 256) as i32 - 128)
        } else {
            random_quant(&mut rng)
        };
        let want = eval(&pool, &x, [1, c, h, w], [oh, ow], &q);
        let k = Kernel::new(pool.clone(), q, [h, w], [oh, ow]);
        for per_output in [false, true] {
            let mut got = vec![0u8; c * oh * ow];
            let srcs: Vec<&[i8]> = x.chunks(h * w).collect();
            if per_output {
                k.planes_per_output(&srcs, &mut got);
            } else {
                k.planes(&srcs, &mut got);
            }
            let got: Vec<i8> = got.iter().map(|&b| b as i8).collect();
            assert_eq!(got, want, "{pool:?} {c}x{h}x{w} {q:?} per output {per_output}");
        }
        checked += 1;
    }
    assert!(checked > 2000, "{checked} cases");
}

/// `average` is `numerics::pool::output` for sums and counts from small to the extremes (where the shifted
/// numerator no longer fits in 64 bits and the definition runs).
#[test]
fn average_requantization_matches_numerics() {
    let mut rng = SplitMix64::new(78);
    let mut accs: Vec<i64> = (0..300).map(|_| (rng.next_u64() as i64) >> (rng.next_u64() % 64)).collect();
    accs.extend([0, 1, -1, 2, -2, 3, -3, 127, -128, i64::MAX, i64::MIN, 1 << 40, -(1 << 40)]);
    for _ in 0..200 {
        let q = random_quant(&mut rng);
        for &acc in &accs {
            for count in [0u64, 1, 2, 3, 4, 9, 49, 196, 1 << 20, u64::MAX] {
                assert_eq!(average(acc, count, &q), output(acc, count, &q), "acc {acc} count {count} {q:?}");
            }
        }
    }
}

/// `floor_div`'s f64 quotient is the integer floor at the edges of its range: numerators one below, at and one
/// above multiples of the count, up to 2^52, with counts from 1 to just below 2^52, and random pairs.
#[test]
fn floor_div_is_the_integer_quotient() {
    let mut rng = SplitMix64::new(79);
    let top = (1u64 << 52) - 1;
    let mut counts = vec![1, 2, 3, 7, 9, 49, 196, 1 << 20, (1 << 26) + 1, (1 << 40) - 3, top - 1, top];
    counts.extend((0..40).map(|_| 1 + (rng.next_u64() >> (12 + rng.next_u64() % 52))));
    for &count in &counts {
        let ks = [0, 1, 2, top / count / 2, top / count - 1, top / count, rng.next_u64() % (top / count + 1)];
        for k in ks {
            for num in [(k * count).wrapping_sub(1), k * count, k * count + 1, k * count + count / 2] {
                if num <= top {
                    assert_eq!(floor_div(num, count), num / count, "{num} / {count}");
                }
            }
        }
    }
    for _ in 0..100_000 {
        let (num, count) = (rng.next_u64() >> (rng.next_u64() % 64), 1 + (rng.next_u64() >> (rng.next_u64() % 64)));
        assert_eq!(floor_div(num, count.max(1)), num / count.max(1), "{num} / {count}");
    }
}

/// ShuffleNet's pools (3x3 at stride 2 with the compiler's one-sided pads, on whole planes and on stripes of
/// them, and a global average) with calibrated requantizations, zero points at the ends of int8 and inputs
/// saturated in places: the row-tap form with the averages in lanes, the per-output form and `numerics::pool`
/// agree bit for bit.
#[test]
fn shufflenet_pools_in_lanes_match_numerics() {
    let mut rng = SplitMix64::new(79);
    let mut lanes = 0;
    for (h, w, kernel, strides, pads) in [
        (56, 56, [3, 3], [2, 2], [1, 1, 0, 1]),
        (29, 56, [3, 3], [2, 2], [0, 1, 0, 1]),
        (28, 28, [3, 3], [2, 2], [1, 1, 1, 1]),
        (7, 7, [7, 7], [1, 1], [0, 0, 0, 0]),
        (9, 13, [2, 3], [3, 1], [1, 2, 1, 2]),
    ] {
        for kind in
            [PoolKind::Max, PoolKind::Avg { count_include_pad: false }, PoolKind::Avg { count_include_pad: true }]
        {
            for (x_zero, y_zero, mult, shift) in [
                (-128, -128, 1_167_385_118, 1),
                (127, -3, 1_156_434_749, 0),
                (0, 127, i32::MAX, -20),
                (-128, 0, 1 << 30, 1),
            ] {
                let q = PoolQuant { x_zero, y_zero, mult, shift };
                let pool = Pool { kind, kernel, strides, pads };
                let Some((oh, ow)) = pool.out_hw(h, w) else { continue };
                let c = 3;
                let x: Vec<i8> = (0..c * h * w)
                    .map(|_| match rng.next_u64() % 6 {
                        0 => i8::MIN,
                        1 => i8::MAX,
                        _ => rng.next_u64() as i8,
                    })
                    .collect();
                let want = eval(&pool, &x, [1, c, h, w], [oh, ow], &q);
                let k = Kernel::new(pool.clone(), q, [h, w], [oh, ow]);
                assert!(k.phases.is_some());
                lanes += usize::from(k.lanes);
                for per_output in [false, true] {
                    let mut got = vec![0u8; c * oh * ow];
                    let srcs: Vec<&[i8]> = x.chunks(h * w).collect();
                    if per_output {
                        k.planes_per_output(&srcs, &mut got);
                    } else {
                        k.planes(&srcs, &mut got);
                    }
                    let got: Vec<i8> = got.iter().map(|&b| b as i8).collect();
                    assert_eq!(got, want, "{pool:?} {h}x{w} {q:?} per output {per_output}");
                }
            }
        }
    }
    // The calibrated parameters take the lanes (the extreme multiplier at shift -20 does too).
    assert!(lanes >= 20, "{lanes}");
}

/// `lanes_exact` refuses what `average_lanes` could not compute exactly, and `average_lanes` is `average`
/// wherever it is accepted, at the bound's edges.
#[test]
fn average_lanes_match_average_within_their_bound() {
    let mut rng = SplitMix64::new(80);
    let mut accepted = 0;
    for _ in 0..3000 {
        let q = random_quant(&mut rng);
        let kernel = [1 + (rng.next_u64() % 9) as usize, 1 + (rng.next_u64() % 9) as usize];
        let pool = Pool { kind: PoolKind::Avg { count_include_pad: true }, kernel, strides: [1, 1], pads: [0; 4] };
        if !lanes_exact(&pool, &q) {
            continue;
        }
        accepted += 1;
        let taps = (kernel[0] * kernel[1]) as i64;
        let bound = taps * (128 + q.x_zero.unsigned_abs() as i64);
        let t = (31 - q.shift.clamp(-31, 30)) as u32;
        for sum in
            [0, 1, -1, bound, -bound, bound - 1, -(bound - 1), (rng.next_u64() % (2 * bound as u64 + 1)) as i64 - bound]
        {
            for div in [1u64, 2, taps as u64, 1 + rng.next_u64() % taps as u64] {
                let want = average(sum, div, &q);
                let got = average_lanes(sum as i32, (div, div as f64), q.mult as i64, t, q.y_zero as i64);
                assert_eq!(got, want, "{sum} / {div} {q:?}");
            }
        }
    }
    assert!(accepted > 500, "{accepted}");
    // A multiplier and shift whose products pass 2^62: refused.
    let q = PoolQuant { x_zero: i32::MIN, y_zero: 0, mult: i32::MAX, shift: 1 };
    let pool = Pool { kind: PoolKind::Avg { count_include_pad: false }, kernel: [3, 3], strides: [1, 1], pads: [0; 4] };
    assert!(!lanes_exact(&pool, &q));
}

/// The command reads its input where it is when the output lies apart from it, before or after, and from a
/// copy when they overlap (in place, or shifted by a few bytes either way): the same outputs everywhere, and
/// nothing written outside the output.
#[test]
fn pool_command_reads_its_input_in_place_or_from_a_copy() {
    use accel_ops::command::{PoolCode, SramAddr};
    let mut rng = SplitMix64::new(81);
    let (c, h, w) = (3, 9, 11);
    let pool =
        Pool { kind: PoolKind::Avg { count_include_pad: false }, kernel: [3, 3], strides: [2, 2], pads: [1, 1, 0, 1] };
    let (oh, ow) = pool.out_hw(h, w).unwrap();
    let q = PoolQuant { x_zero: -128, y_zero: -128, mult: 1_167_385_118, shift: 1 };
    let x: Vec<i8> = (0..c * h * w).map(|_| rng.next_u64() as i8).collect();
    let want = eval(&pool, &x, [1, c, h, w], [oh, ow], &q);
    let (n_in, n_out) = (x.len(), c * oh * ow);
    for (src, dst) in [(0, n_in + 3), (n_out + 7, 2), (40, 40), (40, 45), (45, 40)] {
        let mut sram = vec![0x5au8; 64 + n_in.max(n_out) + 64];
        for (b, v) in sram[src..].iter_mut().zip(&x) {
            *b = *v as u8;
        }
        let before = sram.clone();
        let cmd = Command::PoolI8 {
            kind: PoolCode(pool.kind),
            src: SramAddr(src as u32),
            dst: SramAddr(dst as u32),
            c: c as u32,
            in_h: h as u32,
            in_w: w as u32,
            out_h: oh as u32,
            out_w: ow as u32,
            kernel_h: 3,
            kernel_w: 3,
            stride_h: 2,
            stride_w: 2,
            pad_top: 1,
            pad_left: 1,
            pad_bottom: 0,
            pad_right: 1,
            x_zero: q.x_zero,
            y_zero: q.y_zero,
            mult: q.mult,
            shift: q.shift,
        };
        pool_i8_cmd(&mut sram, &cmd).unwrap();
        let got: Vec<i8> = sram[dst..dst + n_out].iter().map(|&b| b as i8).collect();
        assert_eq!(got, want, "src {src} dst {dst}");
        for (i, (&a, &b)) in sram.iter().zip(&before).enumerate() {
            assert!((dst..dst + n_out).contains(&i) || a == b, "src {src} dst {dst}: byte {i} changed");
        }
    }
}
