//! The f32 functions of the kernel IR written once, generically over `FloatOps`: the interpreter runs them on
//! `f32` (`ScalarMath`), the runtime's JIT emits the same operation sequence on scalars or 4-lane vectors. Both
//! round every step the same way (IEEE single precision, no fused multiply-add), so native code and the
//! interpreter agree bit for bit.
//!
//! Accuracy against libm (checked in `tests`): `exp`, `log`, `sigmoid` within 2e-7 relative, `tanh` and `erf`
//! within 1e-6 relative (plus 1e-7 absolute near zero crossings) over the normal range. `exp` flushes results
//! below about 2^-126 (x < -87.68) to zero instead of returning subnormals.
use super::CmpFn;

/// The primitive operations the math functions are built from. `F` is an f32 (or a vector of them), `I` an
/// i32 of the same lane count, `M` a lane mask.
pub trait FloatOps {
    type F: Copy;
    type I: Copy;
    type M: Copy;
    fn fconst(&mut self, c: f32) -> Self::F;
    fn iconst(&mut self, c: i32) -> Self::I;
    fn fadd(&mut self, a: Self::F, b: Self::F) -> Self::F;
    fn fsub(&mut self, a: Self::F, b: Self::F) -> Self::F;
    fn fmul(&mut self, a: Self::F, b: Self::F) -> Self::F;
    fn fdiv(&mut self, a: Self::F, b: Self::F) -> Self::F;
    /// `a * b + c` with a single rounding.
    fn fma(&mut self, a: Self::F, b: Self::F, c: Self::F) -> Self::F;
    fn fneg(&mut self, a: Self::F) -> Self::F;
    fn fabs(&mut self, a: Self::F) -> Self::F;
    fn floor(&mut self, a: Self::F) -> Self::F;
    fn round_even(&mut self, a: Self::F) -> Self::F;
    fn fcmp(&mut self, op: CmpFn, a: Self::F, b: Self::F) -> Self::M;
    fn is_nan(&mut self, a: Self::F) -> Self::M;
    fn fselect(&mut self, m: Self::M, a: Self::F, b: Self::F) -> Self::F;
    fn iselect(&mut self, m: Self::M, a: Self::I, b: Self::I) -> Self::I;
    fn to_bits(&mut self, a: Self::F) -> Self::I;
    fn bits_to_float(&mut self, a: Self::I) -> Self::F;
    /// Truncating, saturating conversion (NaN gives 0).
    fn to_int(&mut self, a: Self::F) -> Self::I;
    fn to_float(&mut self, a: Self::I) -> Self::F;
    fn iadd(&mut self, a: Self::I, b: Self::I) -> Self::I;
    fn iand(&mut self, a: Self::I, b: Self::I) -> Self::I;
    fn ior(&mut self, a: Self::I, b: Self::I) -> Self::I;
    fn ishl(&mut self, a: Self::I, by: u8) -> Self::I;
    fn ushr(&mut self, a: Self::I, by: u8) -> Self::I;
}

/// Evaluates `((c[0] * x + c[1]) * x + c[2]) ...` (Horner, highest degree first).
fn horner<M: FloatOps>(m: &mut M, x: M::F, c: &[f32]) -> M::F {
    let mut acc = m.fconst(c[0]);
    for &k in &c[1..] {
        let p = m.fmul(acc, x);
        let kk = m.fconst(k);
        acc = m.fadd(p, kk);
    }
    acc
}

/// `max(a, b)`: `a` if `a > b` or `b` is NaN, else `b` (a NaN operand is ignored, as `f32::max` does).
/// Written as `b < a ? a : b` (one `maxps` on x86) and a NaN fix-up that does not depend on `a`: in a
/// reduction `a` is the accumulator, and its dependency chain is then two instructions per step.
pub fn max<M: FloatOps>(m: &mut M, a: M::F, b: M::F) -> M::F {
    let lt = m.fcmp(CmpFn::Lt, b, a);
    let t = m.fselect(lt, a, b);
    let nan = m.is_nan(b);
    m.fselect(nan, a, t)
}

/// `min(a, b)`: `a` if `a < b` or `b` is NaN, else `b` (`a < b ? a : b`, one `minps`, then the NaN fix-up).
pub fn min<M: FloatOps>(m: &mut M, a: M::F, b: M::F) -> M::F {
    let lt = m.fcmp(CmpFn::Lt, a, b);
    let t = m.fselect(lt, a, b);
    let nan = m.is_nan(b);
    m.fselect(nan, a, t)
}

/// One step of a max reduction: `acc < x ? x : acc`, one `maxps` (`maxps x, acc` returns its second operand
/// when either is NaN or they are equal), so the accumulator's dependency chain is one instruction per step. A
/// NaN element is ignored, as `max` ignores a NaN operand (an accumulator starts at -inf and is never NaN); of
/// equal elements the accumulator keeps the one it has, so of +0 and -0 the earlier in its partial wins.
pub fn reduce_max<M: FloatOps>(m: &mut M, acc: M::F, x: M::F) -> M::F {
    let lt = m.fcmp(CmpFn::Lt, acc, x);
    m.fselect(lt, x, acc)
}

/// One step of a min reduction: `x < acc ? x : acc` (one `minps`; see `reduce_max`).
pub fn reduce_min<M: FloatOps>(m: &mut M, acc: M::F, x: M::F) -> M::F {
    let lt = m.fcmp(CmpFn::Lt, x, acc);
    m.fselect(lt, x, acc)
}

/// `e^x`: n = round(x log2 e), r = x - n ln 2 (ln 2 in two parts, fused), e^r by a degree-6 polynomial in
/// Horner form with fused multiply-adds (coefficients fitted for relative error on [-ln2/2, ln2/2]: 0.86 ulp
/// in f32), times 2^n assembled in the exponent bits. 14 vector instructions on x86 with FMA.
///
/// Rounding: `fma(x, log2 e, 1.5 * 2^23 + 127)` rounds the exact product to an integer n (to nearest; a tie
/// goes to the even sum) and leaves n + 127 in the low 9 mantissa bits, so shifting the bits left by 23 is the
/// scale 2^n. Range: clamping x to [-88, 89] keeps n in [-127, 128], where the exponent field n + 127 is 0
/// (scale +0: the result flushes to zero) or 255 (scale +inf: the result is +inf, for every x above 88.376)
/// at the ends. NaN passes the clamps and every later step, so NaN comes out (its payload is not kept;
/// whatever the scale bits, NaN times them is NaN).
pub fn exp<M: FloatOps>(m: &mut M, x: M::F) -> M::F {
    const LO: f32 = -88.0;
    const HI: f32 = 89.0;
    const MAGIC: f32 = 12_583_039.0;
    // ln 2 = LN2_HI + LN2_LO (LN2_HI: ln 2 rounded to f32); n * LN2_HI is exact inside the fma and
    // x - n * LN2_HI is exact in f32.
    const LN2_HI: f32 = std::f32::consts::LN_2;
    const LN2_LO: f32 = -1.904_654_3e-9;
    // Coefficients of 1 + r + c2 r^2 + ... + c6 r^6, highest first.
    const POLY: [f32; 7] = [1.381_314_5e-3, 8.369_419e-3, 4.166_845_6e-2, 1.666_651_5e-1, 4.999_999_4e-1, 1.0, 1.0];
    // `x < LO ? LO : x` and `HI < x ? HI : x`: the x86 `maxps`/`minps` forms, which keep a NaN `x`.
    let (lo, hi) = (m.fconst(LO), m.fconst(HI));
    let below = m.fcmp(CmpFn::Lt, x, lo);
    let xc = m.fselect(below, lo, x);
    let above = m.fcmp(CmpFn::Lt, hi, xc);
    let xc = m.fselect(above, hi, xc);
    let (log2e, magic) = (m.fconst(std::f32::consts::LOG2_E), m.fconst(MAGIC));
    let shifted = m.fma(xc, log2e, magic);
    let n = m.fsub(shifted, magic);
    let (nhi, nlo) = (m.fconst(-LN2_HI), m.fconst(-LN2_LO));
    let r = m.fma(n, nhi, xc);
    let r = m.fma(n, nlo, r);
    let mut p = m.fconst(POLY[0]);
    for &c in &POLY[1..] {
        let c = m.fconst(c);
        p = m.fma(p, r, c);
    }
    // bits(shifted) = bits(1.5 * 2^23) + n + 127, whose low 9 bits are n + 127.
    let sb = m.to_bits(shifted);
    let e = m.ishl(sb, 23);
    let scale = m.bits_to_float(e);
    m.fmul(p, scale)
}

/// Natural logarithm (Cephes logf: mantissa in [sqrt(1/2), sqrt 2) by bit manipulation, degree-8 polynomial).
pub fn log<M: FloatOps>(m: &mut M, x: M::F) -> M::F {
    // Subnormals: scale by 2^23 first so that the exponent field is meaningful.
    let min_normal = m.fconst(f32::MIN_POSITIVE);
    let small = m.fcmp(CmpFn::Lt, x, min_normal);
    let two23 = m.fconst(8_388_608.0);
    let scaled = m.fmul(x, two23);
    let xs = m.fselect(small, scaled, x);
    let (adj, no_adj) = (m.iconst(-23), m.iconst(0));
    let eadj = m.iselect(small, adj, no_adj);
    let bits = m.to_bits(xs);
    let ebits = m.ushr(bits, 23);
    let ff = m.iconst(0xff);
    let ebits = m.iand(ebits, ff);
    let bias = m.iconst(-126);
    let e = m.iadd(ebits, bias);
    let e = m.iadd(e, eadj);
    let mant_mask = m.iconst(0x007f_ffff);
    let mant = m.iand(bits, mant_mask);
    let half_exp = m.iconst(0x3f00_0000);
    let mant = m.ior(mant, half_exp);
    let mx = m.bits_to_float(mant);
    let sqrthf = m.fconst(std::f32::consts::FRAC_1_SQRT_2);
    let lt = m.fcmp(CmpFn::Lt, mx, sqrthf);
    let (minus_one, zero_i) = (m.iconst(-1), m.iconst(0));
    let de = m.iselect(lt, minus_one, zero_i);
    let e = m.iadd(e, de);
    let one = m.fconst(1.0);
    let doubled = m.fadd(mx, mx);
    let mx = m.fselect(lt, doubled, mx);
    let f = m.fsub(mx, one);
    let z = m.fmul(f, f);
    let p = horner(
        m,
        f,
        &[
            7.037_683_6e-2,
            -1.151_461e-1,
            1.167_699_9e-1,
            -1.242_014_1e-1,
            1.424_932_3e-1,
            -1.666_805_8e-1,
            2.000_071_4e-1,
            -2.499_999_4e-1,
            3.333_333e-1,
        ],
    );
    let pf = m.fmul(p, f);
    let y = m.fmul(pf, z);
    let fe = m.to_float(e);
    let c2 = m.fconst(-2.121_944_4e-4);
    let t = m.fmul(c2, fe);
    let y = m.fadd(y, t);
    let half = m.fconst(-0.5);
    let t = m.fmul(half, z);
    let y = m.fadd(y, t);
    let r = m.fadd(f, y);
    let c1 = m.fconst(0.693_359_4);
    let t = m.fmul(c1, fe);
    let r = m.fadd(r, t);
    let (inf, zero) = (m.fconst(f32::INFINITY), m.fconst(0.0));
    let is_inf = m.fcmp(CmpFn::Eq, x, inf);
    let r = m.fselect(is_inf, inf, r);
    let neg = m.fcmp(CmpFn::Lt, x, zero);
    let nan = m.fconst(f32::NAN);
    let r = m.fselect(neg, nan, r);
    let is_zero = m.fcmp(CmpFn::Eq, x, zero);
    let ninf = m.fconst(f32::NEG_INFINITY);
    let r = m.fselect(is_zero, ninf, r);
    let x_nan = m.is_nan(x);
    m.fselect(x_nan, x, r)
}

/// Hyperbolic tangent (Cephes tanhf: odd polynomial below 0.625, `1 - 2 / (e^2|x| + 1)` above).
pub fn tanh<M: FloatOps>(m: &mut M, x: M::F) -> M::F {
    let z = m.fabs(x);
    let z2x = m.fadd(z, z);
    let e = exp(m, z2x);
    let one = m.fconst(1.0);
    let two = m.fconst(2.0);
    let e1 = m.fadd(e, one);
    let q = m.fdiv(two, e1);
    let big = m.fsub(one, q);
    let zero = m.fconst(0.0);
    let negative = m.fcmp(CmpFn::Lt, x, zero);
    let nbig = m.fneg(big);
    let big = m.fselect(negative, nbig, big);
    let x2 = m.fmul(x, x);
    let p = horner(m, x2, &[-5.704_988_7e-3, 2.063_909e-2, -5.373_971_6e-2, 1.333_144_2e-1, -3.333_328e-1]);
    let p = m.fmul(p, x2);
    let p = m.fmul(p, x);
    let small = m.fadd(p, x);
    // Keep the sign of a zero (the polynomial term is +0 for x = -0).
    let is_zero = m.fcmp(CmpFn::Eq, x, zero);
    let small = m.fselect(is_zero, x, small);
    let limit = m.fconst(0.625);
    let use_big = m.fcmp(CmpFn::Gt, z, limit);
    m.fselect(use_big, big, small)
}

/// The error function: Taylor series below |x| = 0.5, the Numerical Recipes `erfc` fit above (the fit the ops
/// reference uses, so the two agree to f32 rounding).
pub fn erf<M: FloatOps>(m: &mut M, x: M::F) -> M::F {
    let z = m.fabs(x);
    let x2 = m.fmul(x, x);
    let taylor = horner(
        m,
        x2,
        &[
            1.205_533_3e-4,
            -8.548_327e-4,
            5.223_977_6e-3,
            -2.686_617e-2,
            1.128_379_2e-1,
            -3.761_263_9e-1,
            std::f32::consts::FRAC_2_SQRT_PI,
        ],
    );
    let small = m.fmul(x, taylor);
    let one = m.fconst(1.0);
    let half = m.fconst(0.5);
    let hz = m.fmul(half, z);
    let d = m.fadd(one, hz);
    let t = m.fdiv(one, d);
    let poly = horner(
        m,
        t,
        &[
            0.170_872_77,
            -0.822_152_23,
            1.488_515_9,
            -1.135_204,
            0.278_868_07,
            -0.186_288_06,
            0.096_784_18,
            0.374_091_96,
            1.000_023_7,
        ],
    );
    let tp = m.fmul(t, poly);
    let zz = m.fmul(z, z);
    let nzz = m.fneg(zz);
    let c = m.fconst(1.265_512_2);
    let arg = m.fsub(nzz, c);
    let arg = m.fadd(arg, tp);
    let ex = exp(m, arg);
    let r = m.fmul(t, ex);
    let pos = m.fsub(one, r);
    let neg = m.fsub(r, one);
    let zero = m.fconst(0.0);
    let nonneg = m.fcmp(CmpFn::Ge, x, zero);
    let big = m.fselect(nonneg, pos, neg);
    let use_small = m.fcmp(CmpFn::Lt, z, half);
    m.fselect(use_small, small, big)
}

/// `1 / (1 + e^-x)`, the ops reference's formula.
pub fn sigmoid<M: FloatOps>(m: &mut M, x: M::F) -> M::F {
    let nx = m.fneg(x);
    let e = exp(m, nx);
    let one = m.fconst(1.0);
    let d = m.fadd(one, e);
    m.fdiv(one, d)
}

/// Rounds to the nearest bf16 (ties to even) and widens back to f32; NaN keeps its high bits and becomes quiet
/// (the `half` crate's conversion, bit for bit).
pub fn round_bf16<M: FloatOps>(m: &mut M, x: M::F) -> M::F {
    let bits = m.to_bits(x);
    let lsb = m.ushr(bits, 16);
    let one = m.iconst(1);
    let lsb = m.iand(lsb, one);
    let bias = m.iconst(0x7fff);
    let r = m.iadd(bits, bias);
    let r = m.iadd(r, lsb);
    let hi_mask = m.iconst(0xffff_0000_u32 as i32);
    let rounded = m.iand(r, hi_mask);
    let kept = m.iand(bits, hi_mask);
    let quiet = m.iconst(0x0040_0000);
    let quieted = m.ior(kept, quiet);
    let nan = m.is_nan(x);
    let out = m.iselect(nan, quieted, rounded);
    m.bits_to_float(out)
}

/// `FloatOps` on plain `f32`: what the interpreter computes with.
#[derive(Debug, Clone, Copy, Default)]
pub struct ScalarMath;

impl FloatOps for ScalarMath {
    type F = f32;
    type I = i32;
    type M = bool;
    fn fconst(&mut self, c: f32) -> f32 {
        c
    }
    fn iconst(&mut self, c: i32) -> i32 {
        c
    }
    fn fadd(&mut self, a: f32, b: f32) -> f32 {
        a + b
    }
    fn fsub(&mut self, a: f32, b: f32) -> f32 {
        a - b
    }
    fn fmul(&mut self, a: f32, b: f32) -> f32 {
        a * b
    }
    fn fdiv(&mut self, a: f32, b: f32) -> f32 {
        a / b
    }
    fn fma(&mut self, a: f32, b: f32, c: f32) -> f32 {
        a.mul_add(b, c)
    }
    fn fneg(&mut self, a: f32) -> f32 {
        -a
    }
    fn fabs(&mut self, a: f32) -> f32 {
        a.abs()
    }
    fn floor(&mut self, a: f32) -> f32 {
        a.floor()
    }
    fn round_even(&mut self, a: f32) -> f32 {
        a.round_ties_even()
    }
    fn fcmp(&mut self, op: CmpFn, a: f32, b: f32) -> bool {
        cmp_f32(op, a, b)
    }
    fn is_nan(&mut self, a: f32) -> bool {
        a.is_nan()
    }
    fn fselect(&mut self, m: bool, a: f32, b: f32) -> f32 {
        if m {
            a
        } else {
            b
        }
    }
    fn iselect(&mut self, m: bool, a: i32, b: i32) -> i32 {
        if m {
            a
        } else {
            b
        }
    }
    fn to_bits(&mut self, a: f32) -> i32 {
        a.to_bits() as i32
    }
    fn bits_to_float(&mut self, a: i32) -> f32 {
        f32::from_bits(a as u32)
    }
    fn to_int(&mut self, a: f32) -> i32 {
        a as i32
    }
    fn to_float(&mut self, a: i32) -> f32 {
        a as f32
    }
    fn iadd(&mut self, a: i32, b: i32) -> i32 {
        a.wrapping_add(b)
    }
    fn iand(&mut self, a: i32, b: i32) -> i32 {
        a & b
    }
    fn ior(&mut self, a: i32, b: i32) -> i32 {
        a | b
    }
    fn ishl(&mut self, a: i32, by: u8) -> i32 {
        a.wrapping_shl(u32::from(by))
    }
    fn ushr(&mut self, a: i32, by: u8) -> i32 {
        ((a as u32) >> (by & 31)) as i32
    }
}

/// An f32 comparison as the IR defines it.
pub fn cmp_f32(op: CmpFn, a: f32, b: f32) -> bool {
    match op {
        CmpFn::Eq => a == b,
        CmpFn::Ne => a != b,
        CmpFn::Lt => a < b,
        CmpFn::Le => a <= b,
        CmpFn::Gt => a > b,
        CmpFn::Ge => a >= b,
    }
}

/// The bf16 bits of an f32, rounded to nearest even (what a store to a bf16 buffer writes).
pub fn bf16_bits(x: f32) -> u16 {
    (round_bf16(&mut ScalarMath, x).to_bits() >> 16) as u16
}

/// The f32 a bf16 element widens to (exact).
pub fn bf16_to_f32(bits: u16) -> f32 {
    f32::from_bits(u32::from(bits) << 16)
}
