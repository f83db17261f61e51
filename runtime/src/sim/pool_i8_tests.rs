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
        let k = Kernel::new(pool.clone(), q, [h, w], ow);
        let mut got = vec![0u8; c * oh * ow];
        for (d, s) in got.chunks_mut(oh * ow).zip(x.chunks(h * w)) {
            k.plane(s, d);
        }
        let got: Vec<i8> = got.iter().map(|&b| b as i8).collect();
        assert_eq!(got, want, "{pool:?} {c}x{h}x{w} {q:?}");
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
