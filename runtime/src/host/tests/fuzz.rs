//! Differential fuzzing (BAD-INPUT class 19): random kernels mixing every elementwise operation, cast,
//! comparison and select, unit-stride, strided and uniform loads, stores and reductions, in loops whose
//! lengths leave vector remainders. Native code must match the interpreter bit for bit. `ACCEL_FUZZ_SEED` and
//! `ACCEL_FUZZ_CASES` run other or more cases (the default, 400 cases from seed 2024, keeps CI fast).
use super::{check, Rng};
use accel_ops::kernel::{BinaryFn, BoundsMode, Builder, CmpFn, Kernel, ReduceFn, ScalarType, UnaryFn, ValueId};
use accel_ops::DType;

const UNARY_F32: [UnaryFn; 12] = [
    UnaryFn::Neg,
    UnaryFn::Abs,
    UnaryFn::Sqrt,
    UnaryFn::Floor,
    UnaryFn::Ceil,
    UnaryFn::Trunc,
    UnaryFn::RoundEven,
    UnaryFn::Exp,
    UnaryFn::Log,
    UnaryFn::Tanh,
    UnaryFn::Erf,
    UnaryFn::Sigmoid,
];
const CMP: [CmpFn; 6] = [CmpFn::Eq, CmpFn::Ne, CmpFn::Lt, CmpFn::Le, CmpFn::Gt, CmpFn::Ge];
const ARITH: [BinaryFn; 5] = [BinaryFn::Add, BinaryFn::Sub, BinaryFn::Mul, BinaryFn::Min, BinaryFn::Max];

struct Pool {
    f: Vec<ValueId>,
    i: Vec<ValueId>,
    b: Vec<ValueId>,
}

impl Pool {
    fn pick(rng: &mut Rng, v: &[ValueId]) -> ValueId {
        v[rng.below(v.len())]
    }
}

/// One random operation over the pool.
fn grow(b: &mut Builder, rng: &mut Rng, p: &mut Pool, allow_pow: bool) {
    let (f, i, c) = (Pool::pick(rng, &p.f), Pool::pick(rng, &p.i), Pool::pick(rng, &p.b));
    let (f2, i2) = (Pool::pick(rng, &p.f), Pool::pick(rng, &p.i));
    match rng.below(14) {
        0 => p.f.push(b.un(UNARY_F32[rng.below(UNARY_F32.len())], f)),
        1 => p.f.push(b.un(UnaryFn::RoundBf16, f)),
        2 | 3 => {
            let op = [BinaryFn::Add, BinaryFn::Sub, BinaryFn::Mul, BinaryFn::Div, BinaryFn::Min, BinaryFn::Max];
            p.f.push(b.bin(op[rng.below(op.len())], f, f2));
        }
        4 if allow_pow => p.f.push(b.bin(BinaryFn::Pow, f, f2)),
        5 => p.i.push(b.bin(ARITH[rng.below(ARITH.len())], i, i2)),
        6 => p.i.push(b.un([UnaryFn::Neg, UnaryFn::Abs][rng.below(2)], i)),
        7 => p.b.push(b.cmp(CMP[rng.below(6)], f, f2)),
        8 => p.b.push(b.cmp(CMP[rng.below(6)], i, i2)),
        9 => {
            let c2 = Pool::pick(rng, &p.b);
            let op = [BinaryFn::And, BinaryFn::Or, BinaryFn::Xor][rng.below(3)];
            let x = b.bin(op, c, c2);
            p.b.push(b.un(UnaryFn::Not, x));
        }
        10 => p.f.push(b.select(c, f, f2)),
        11 => p.i.push(b.select(c, i, i2)),
        12 => match rng.below(4) {
            0 => p.f.push(b.cast(ScalarType::F32, i)),
            1 => p.i.push(b.cast(ScalarType::I32, f)),
            2 => p.f.push(b.cast(ScalarType::F32, c)),
            _ => p.b.push(b.cast(ScalarType::Bool, f)),
        },
        _ => p.f.push(b.f32(rng.f32(-2.0, 2.0))),
    }
}

/// A random kernel: an optional outer loop around a loop or a reduction of random length.
fn random_kernel(rng: &mut Rng) -> Kernel {
    let n = [1usize, 3, 4, 5, 8, 13, 16, 17, 29, 31, 64, 67, 75][rng.below(13)];
    let outer = rng.below(3) + 1;
    let mut b = Builder::new("fuzz");
    let xf = b.input(DType::F32, 2 * n * outer);
    let xh = b.input(DType::BF16, n * outer);
    let xi = b.input(DType::I32, n * outer);
    let xu = b.input(DType::U8, n * outer);
    let yf = b.output(DType::F32, n * outer);
    let yi = b.output(DType::I32, n * outer);
    let yr = b.output(DType::F32, outer);
    let o = b.loop_(outer);
    let reduce = rng.below(3) == 0;
    let op = [ReduceFn::Sum, ReduceFn::Prod, ReduceFn::Max, ReduceFn::Min][rng.below(4)];
    let j = if reduce { b.reduce(op, n) } else { b.loop_(n) };
    let at = b.affine(&[(o, n as i64), (j, 1)], 0);
    let strided = b.affine(&[(o, 2 * n as i64), (j, 2)], 1);
    let row = b.affine(&[(o, n as i64)], 0);
    let mut p = Pool { f: vec![], i: vec![], b: vec![] };
    p.f.push(b.load(xf, at));
    p.f.push(b.load(xf, strided));
    p.f.push(b.load(xf, row));
    p.f.push(b.load(xh, at));
    p.i.push(b.load(xi, at));
    p.i.push(b.load(xu, at));
    let jf = b.cast(ScalarType::F32, j);
    p.f.push(jf);
    if rng.below(4) == 0 {
        // A data-dependent index (keeps the region scalar).
        let raw = b.cast(ScalarType::I64, p.i[0]);
        let mode = if rng.below(2) == 0 { BoundsMode::Clamp } else { BoundsMode::Trap };
        let checked = b.check_index(raw, n * outer, mode);
        p.f.push(b.load(xf, checked));
    }
    p.b.push(b.cmp(CmpFn::Lt, p.f[0], p.f[1]));
    let allow_pow = rng.below(4) == 0;
    for _ in 0..rng.below(24) + 1 {
        grow(&mut b, rng, &mut p, allow_pow);
    }
    let (f, i) = (*p.f.last().unwrap(), *p.i.last().unwrap());
    if reduce {
        if rng.below(2) == 0 {
            // A reduction that also stores (as softmax's exponential pass does).
            b.store(yf, at, f);
            b.store(yi, at, i);
        }
        let r = b.end_reduce(f);
        b.store(yr, o, r);
    } else {
        b.store(yf, at, f);
        b.store(yi, at, i);
        b.end();
    }
    b.end();
    b.finish()
}

#[test]
fn random_kernels_match_the_interpreter_bit_for_bit() {
    let mut rng = Rng::new(std::env::var("ACCEL_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(2024));
    let mut vectorized = 0;
    for _ in 0..std::env::var("ACCEL_FUZZ_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(400) {
        let k = random_kernel(&mut rng);
        let jit = check(k, &mut rng);
        vectorized += jit.stats().vector_regions;
    }
    assert!(vectorized > 100, "only {vectorized} random kernels were vectorized");
}
