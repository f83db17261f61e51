//! `requant_all` over whole commands against `QuantParams::output` per element: planes from one element (a
//! matmul's rows) to larger than a task, channel counts that do not divide the task, so that tasks start
//! mid-way through the channels, with and without a residual, a LeakyReLU and a lookup table.
use super::*;
use crate::random::SplitMix64;
use accel_ops::numerics::requant::{leaky_multiplier, quantize_multiplier, QuantHeader};

fn params(rng: &mut SplitMix64, channels: usize, residual: bool, leaky: bool, table: bool) -> QuantParams {
    let mut f = || (rng.next_u64() % 1000) as f64 / 1000.0;
    let (r_mult, r_shift) = if residual { quantize_multiplier(0.25 + f() * 3.75).unwrap() } else { (0, 0) };
    let header = QuantHeader {
        x_zero: 0,
        y_zero: (f() * 255.0) as i32 - 128,
        y_min: if f() < 0.5 { -128 } else { -20 },
        y_max: 127,
        r_zero: if residual { (f() * 255.0) as i32 - 128 } else { 0 },
        r_mult,
        r_shift,
        neg_mult: if leaky { leaky_multiplier(0.1).unwrap() } else { 0 },
    };
    let table = table.then(|| std::array::from_fn(|_| (f() * 256.0) as i32 as u8 as i8));
    let channels = (0..channels).map(|_| quantize_multiplier(1e-4 + f() * 0.05).unwrap()).collect();
    QuantParams { header, table, channels }
}

#[test]
fn requant_all_matches_the_definition_across_tasks() {
    let mut rng = SplitMix64::new(42);
    for (plane, channels) in [(1, 37), (4, 272), (49, 136), (56, 272), (196, 67), (3001, 23), (TASK + 5, 3)] {
        for (residual, leaky, table) in
            [(false, false, false), (true, false, false), (false, true, true), (true, true, false)]
        {
            let q = params(&mut rng, channels, residual, leaky, table);
            // More than one task's worth, and a count of planes that is no multiple of the channels.
            let len = plane * (channels * 2 + 1).max(TASK / plane + channels + 1);
            let acc: Vec<i32> = (0..len)
                .map(|i| match i % 11 {
                    0 => i32::MIN,
                    1 => i32::MAX,
                    _ => (rng.next_u64() as i32) >> (rng.next_u64() % 24),
                })
                .collect();
            let res: Vec<i8> = (0..len).map(|_| rng.next_u64() as i8).collect();
            let r = residual.then_some(res.as_slice());
            let mut y = vec![0i8; len];
            requant_all(&acc, plane, &q, r, &mut y);
            for (i, (&a, &o)) in acc.iter().zip(&y).enumerate() {
                let ch = if plane <= 1 { i % channels } else { i / plane % channels };
                let want = q.output(a, ch, r.map(|r| r[i]));
                assert_eq!(o, want, "plane {plane} channels {channels} element {i} residual {residual} leaky {leaky}");
            }
        }
    }
}
