//! The BF16 and INT8 MAC commands and `vec.convert` on SRAM against `accel_ops::numerics` on random data:
//! bit for bit (BF16 because the kernels sum in the defined order, INT8 because integer sums are exact and the
//! requantization is the same function). Geometries cover groups, depthwise, stride, dilation, asymmetric
//! padding, residuals and activations.
use super::*;
use crate::random::SplitMix64;
use crate::sim::lazy::{Lazy, Operands};
use crate::sim::requant::RequantPlane;
use crate::sim::scratch::MacScratch;
use accel_ops::command::{Act, Command, SramAddr};
use accel_ops::numerics::requant::{output, QuantHeader, QuantParams};
use accel_ops::numerics::{self as nx, ConvGeom as RefGeom};
use accel_ops::op::UnaryOp;

/// A bump allocator over a fresh SRAM image.
struct Sram {
    mem: Vec<u8>,
}

impl Sram {
    fn new() -> Self {
        Sram { mem: Vec::new() }
    }
    fn put(&mut self, bytes: &[u8]) -> SramAddr {
        let at = self.mem.len().next_multiple_of(64);
        self.mem.resize(at, 0);
        self.mem.extend_from_slice(bytes);
        SramAddr(at as u32)
    }
    fn reserve(&mut self, n: usize) -> SramAddr {
        self.put(&vec![0xAA; n])
    }
}

fn bf16_bytes(v: &[bf16]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_bits().to_le_bytes()).collect()
}
fn words(v: &[i32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}
fn floats(v: &[f32]) -> Vec<u8> {
    v.iter().flat_map(|x| x.to_le_bytes()).collect()
}

struct Case {
    c: usize,
    h: usize,
    w: usize,
    k: usize,
    kernel: usize,
    stride: usize,
    dilation: usize,
    pads: [usize; 4],
    groups: usize,
    residual: bool,
    act: Option<UnaryOp>,
}

const CASES: &[Case] = &[
    Case {
        c: 3,
        h: 9,
        w: 7,
        k: 5,
        kernel: 3,
        stride: 1,
        dilation: 1,
        pads: [1, 1, 1, 1],
        groups: 1,
        residual: false,
        act: None,
    },
    Case {
        c: 8,
        h: 8,
        w: 8,
        k: 8,
        kernel: 3,
        stride: 2,
        dilation: 1,
        pads: [0, 1, 1, 0],
        groups: 8,
        residual: false,
        act: Some(UnaryOp::Relu),
    },
    Case {
        c: 6,
        h: 11,
        w: 10,
        k: 4,
        kernel: 3,
        stride: 1,
        dilation: 2,
        pads: [2, 2, 2, 2],
        groups: 2,
        residual: true,
        act: Some(UnaryOp::Clip { min: 0.0, max: 6.0 }),
    },
    Case {
        c: 16,
        h: 20,
        w: 17,
        k: 24,
        kernel: 1,
        stride: 1,
        dilation: 1,
        pads: [0; 4],
        groups: 1,
        residual: true,
        act: None,
    },
    Case {
        c: 5,
        h: 4,
        w: 30,
        k: 3,
        kernel: 5,
        stride: 3,
        dilation: 1,
        pads: [2, 0, 0, 2],
        groups: 1,
        residual: false,
        act: Some(UnaryOp::Sigmoid),
    },
    // Depthwise with more than one column chunk per channel (BF16: 256 positions), residual and clip.
    Case {
        c: 12,
        h: 20,
        w: 19,
        k: 12,
        kernel: 3,
        stride: 1,
        dilation: 1,
        pads: [1, 1, 1, 1],
        groups: 12,
        residual: true,
        act: Some(UnaryOp::Clip { min: 0.0, max: 6.0 }),
    },
];

impl Case {
    fn geom(&self) -> RefGeom {
        let od =
            |i: usize, lo: usize, hi: usize| (i + lo + hi - self.dilation * (self.kernel - 1) - 1) / self.stride + 1;
        RefGeom {
            in_c: self.c,
            in_h: self.h,
            in_w: self.w,
            out_c: self.k,
            out_h: od(self.h, self.pads[0], self.pads[2]),
            out_w: od(self.w, self.pads[1], self.pads[3]),
            kernel: [self.kernel; 2],
            stride: [self.stride; 2],
            dilation: [self.dilation; 2],
            pad: [self.pads[0], self.pads[1]],
            groups: self.groups,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn command(
        &self,
        dtype: DType,
        g: &RefGeom,
        x: SramAddr,
        w: SramAddr,
        b: SramAddr,
        r: SramAddr,
        q: SramAddr,
        y: SramAddr,
    ) -> Command {
        Command::Conv {
            dtype,
            input: x,
            in_c: g.in_c as u32,
            in_h: g.in_h as u32,
            in_w: g.in_w as u32,
            in_row_pitch: g.in_w as u32,
            in_plane_rows: g.in_h as u32,
            weights: w,
            bias: b,
            residual: r,
            res_row_pitch: if r.is_none() { 0 } else { g.out_w as u32 },
            res_plane_rows: if r.is_none() { 0 } else { g.out_h as u32 },
            quant: q,
            output: y,
            out_c: g.out_c as u32,
            out_h: g.out_h as u32,
            out_w: g.out_w as u32,
            kernel_h: self.kernel as u16,
            kernel_w: self.kernel as u16,
            stride_h: self.stride as u16,
            stride_w: self.stride as u16,
            dilation_h: self.dilation as u16,
            dilation_w: self.dilation as u16,
            pad_top: self.pads[0] as u16,
            pad_left: self.pads[1] as u16,
            pad_bottom: self.pads[2] as u16,
            pad_right: self.pads[3] as u16,
            groups: self.groups as u32,
            act: Act(if dtype == DType::I8 { None } else { self.act }),
        }
    }
}

fn bf16_vec(rng: &mut SplitMix64, n: usize, scale: f32) -> Vec<bf16> {
    (0..n).map(|_| bf16::from_f32(rng.uniform() * scale)).collect()
}

fn i8_vec(rng: &mut SplitMix64, n: usize) -> Vec<i8> {
    (0..n).map(|_| (rng.next_u64() >> 56) as u8 as i8).collect()
}

#[test]
fn bf16_conv_is_bit_exact_with_the_reference() {
    let mut rng = SplitMix64::new(11);
    for (i, case) in CASES.iter().enumerate() {
        let g = case.geom();
        let x = bf16_vec(&mut rng, g.in_c * g.in_h * g.in_w, 3.0);
        let w = bf16_vec(&mut rng, g.out_c * (g.in_c / g.groups) * case.kernel * case.kernel, 1.0);
        let b: Vec<f32> = rng.f32_vec(g.out_c);
        let out_len = g.out_c * g.out_h * g.out_w;
        let r = case.residual.then(|| bf16_vec(&mut rng, out_len, 2.0));
        let mut want = vec![bf16::ZERO; out_len];
        nx::bf16::conv(&g, &x, &w, Some(&b), r.as_deref(), case.act, &mut want).unwrap();
        let mut s = Sram::new();
        let (xa, wa, ba) = (s.put(&bf16_bytes(&x)), s.put(&bf16_bytes(&w)), s.put(&floats(&b)));
        let ra = r.as_ref().map_or(SramAddr::NONE, |r| s.put(&bf16_bytes(r)));
        let ya = s.reserve(out_len * 2);
        let cmd = case.command(DType::BF16, &g, xa, wa, ba, ra, SramAddr::NONE, ya);
        cmd.footprint().unwrap();
        mac(&mut s.mem, Operands { dram: &[], lazy: &Lazy::default() }, &cmd, &mut MacScratch::default()).unwrap();
        let got: Vec<u16> =
            s.mem[ya.0 as usize..][..out_len * 2].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        let want: Vec<u16> = want.iter().map(|v| v.to_bits()).collect();
        assert_eq!(got, want, "case {i}");
    }
}

#[test]
fn bf16_matmul_is_bit_exact_with_the_reference() {
    let mut rng = SplitMix64::new(12);
    for &(m, k, n) in &[(1, 1, 1), (3, 17, 5), (16, 300, 33), (2, 1000, 7)] {
        let (a, b) = (bf16_vec(&mut rng, m * k, 2.0), bf16_vec(&mut rng, k * n, 1.0));
        let bias = rng.f32_vec(n);
        let act = Some(UnaryOp::HardSwish);
        let mut want = vec![bf16::ZERO; m * n];
        nx::bf16::matmul((m, k, n), &a, &b, Some(&bias), act, &mut want).unwrap();
        let mut s = Sram::new();
        let (aa, ba, bi) = (s.put(&bf16_bytes(&a)), s.put(&bf16_bytes(&b)), s.put(&floats(&bias)));
        let ya = s.reserve(m * n * 2);
        let cmd = Command::MatMul {
            dtype: DType::BF16,
            a: aa,
            b: ba,
            bias: bi,
            quant: SramAddr::NONE,
            output: ya,
            m: m as u32,
            k: k as u32,
            n: n as u32,
            act: Act(act),
        };
        cmd.footprint().unwrap();
        mac(&mut s.mem, Operands { dram: &[], lazy: &Lazy::default() }, &cmd, &mut MacScratch::default()).unwrap();
        let got: Vec<u16> =
            s.mem[ya.0 as usize..][..m * n * 2].chunks_exact(2).map(|c| u16::from_le_bytes([c[0], c[1]])).collect();
        assert_eq!(got, want.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), "{m}x{k}x{n}");
    }
}

/// Random requantization parameters in the range PTQ produces (factors ~1e-4 .. 1e-1), with clamps, half
/// of the time a fused LeakyReLU, and half of the time (independently) a random lookup table.
fn random_quant(rng: &mut SplitMix64, channels: usize, residual: bool) -> QuantParams {
    let mut f = || (rng.next_u64() % 1000) as f64 / 1000.0;
    let header = QuantHeader {
        x_zero: (f() * 255.0) as i32 - 128,
        y_zero: (f() * 60.0) as i32 - 30,
        y_min: -100,
        y_max: 120,
        r_zero: if residual { (f() * 20.0) as i32 - 10 } else { 0 },
        r_mult: 0,
        r_shift: 0,
        // Every other draw fuses a LeakyReLU (slope 0.1 or 0.01).
        neg_mult: match (f() * 4.0) as u32 {
            0 => nx::requant::leaky_multiplier(0.1).unwrap(),
            1 => nx::requant::leaky_multiplier(0.01).unwrap(),
            _ => 0,
        },
    };
    // The residual's factor `r_scale / y_scale` as calibration gives it (~0.25 .. 4).
    let header = match residual {
        true => {
            let (r_mult, r_shift) = nx::quantize_multiplier(0.25 + f() * 3.75).unwrap();
            QuantHeader { r_mult, r_shift, ..header }
        }
        false => header,
    };
    let table = (f() < 0.5).then(|| std::array::from_fn(|_| (f() * 256.0) as i32 as u8 as i8));
    let channels = (0..channels).map(|_| nx::quantize_multiplier(1e-4 + f() * 0.05).unwrap()).collect();
    QuantParams { header, table, channels }
}

/// The `act` of an int8 command with `q`: a table's function (any names one; the table is what counts).
fn act_of(q: &QuantParams) -> Act {
    Act(q.table.map(|_| UnaryOp::Silu))
}

#[test]
fn int8_conv_is_bit_exact_with_the_reference() {
    let mut rng = SplitMix64::new(13);
    let mut tables = 0;
    for (i, case) in CASES.iter().enumerate() {
        let g = case.geom();
        let x = i8_vec(&mut rng, g.in_c * g.in_h * g.in_w);
        let w = i8_vec(&mut rng, g.out_c * (g.in_c / g.groups) * case.kernel * case.kernel);
        let b: Vec<i32> = (0..g.out_c).map(|_| (rng.next_u64() % 20001) as i32 - 10000).collect();
        let out_len = g.out_c * g.out_h * g.out_w;
        let r = case.residual.then(|| i8_vec(&mut rng, out_len));
        let q = random_quant(&mut rng, g.out_c, case.residual);
        let mut want = vec![0i8; out_len];
        nx::int8::conv(&g, &x, &w, &b, &q, r.as_deref(), &mut want).unwrap();
        let mut s = Sram::new();
        let xb: Vec<u8> = x.iter().map(|&v| v as u8).collect();
        let wb: Vec<u8> = w.iter().map(|&v| v as u8).collect();
        let (xa, wa, ba, qa) = (s.put(&xb), s.put(&wb), s.put(&words(&b)), s.put(&words(&q.to_words())));
        let ra = r.as_ref().map_or(SramAddr::NONE, |r| s.put(&r.iter().map(|&v| v as u8).collect::<Vec<_>>()));
        let ya = s.reserve(out_len);
        let mut cmd = case.command(DType::I8, &g, xa, wa, ba, ra, qa, ya);
        if let Command::Conv { act, .. } = &mut cmd {
            *act = act_of(&q);
        }
        cmd.footprint().unwrap();
        mac(&mut s.mem, Operands { dram: &[], lazy: &Lazy::default() }, &cmd, &mut MacScratch::default()).unwrap();
        let got: Vec<i8> = s.mem[ya.0 as usize..][..out_len].iter().map(|&v| v as i8).collect();
        assert_eq!(got, want, "case {i} (table: {})", q.table.is_some());
        tables += q.table.is_some() as usize;
        assert!(want.iter().any(|&v| v != want[0]), "case {i}: degenerate output");
    }
    assert!(tables > 0 && tables < CASES.len(), "both forms are drawn: {tables} tables");
}

#[test]
fn int8_matmul_is_bit_exact_with_the_reference() {
    let mut rng = SplitMix64::new(14);
    let mut tables = 0;
    for &(m, k, n) in &[(1, 1, 1), (3, 17, 5), (16, 300, 33), (2, 1000, 7)] {
        let (a, b) = (i8_vec(&mut rng, m * k), i8_vec(&mut rng, k * n));
        let bias: Vec<i32> = (0..n).map(|_| (rng.next_u64() % 2001) as i32 - 1000).collect();
        let q = random_quant(&mut rng, n, false);
        let mut want = vec![0i8; m * n];
        nx::int8::matmul((m, k, n), &a, &b, &bias, &q, &mut want).unwrap();
        let mut s = Sram::new();
        let bytes = |v: &[i8]| v.iter().map(|&x| x as u8).collect::<Vec<_>>();
        let (aa, ba, bi, qa) =
            (s.put(&bytes(&a)), s.put(&bytes(&b)), s.put(&words(&bias)), s.put(&words(&q.to_words())));
        let ya = s.reserve(m * n);
        let cmd = Command::MatMul {
            dtype: DType::I8,
            a: aa,
            b: ba,
            bias: bi,
            quant: qa,
            output: ya,
            m: m as u32,
            k: k as u32,
            n: n as u32,
            act: act_of(&q),
        };
        cmd.footprint().unwrap();
        mac(&mut s.mem, Operands { dram: &[], lazy: &Lazy::default() }, &cmd, &mut MacScratch::default()).unwrap();
        let got: Vec<i8> = s.mem[ya.0 as usize..][..m * n].iter().map(|&v| v as i8).collect();
        assert_eq!(got, want, "{m}x{k}x{n} (table: {})", q.table.is_some());
        tables += q.table.is_some() as usize;
    }
    assert!(tables > 0, "a table is drawn");
}

#[test]
fn convert_quantizes_through_sram() {
    let x = [-1.0f32, -0.02, 0.0, 0.015, 0.5, 3.0];
    let p = nx::ConvertParams { scale: 0.01, zero: 4 };
    let mut s = Sram::new();
    let (src, pa, dst) = (s.put(&floats(&x)), s.put(&p.to_le_bytes()), s.reserve(x.len()));
    let cmd = Command::Convert { from: DType::F32, to: DType::I8, src, dst, params: pa, len: x.len() as u32 };
    cmd.footprint().unwrap();
    convert_cmd(&mut s.mem, &cmd).unwrap();
    let got: Vec<i8> = s.mem[dst.0 as usize..][..x.len()].iter().map(|&v| v as i8).collect();
    assert_eq!(got, vec![-96, 2, 4, 6, 54, 127]);
    let bad = Command::Convert { from: DType::F32, to: DType::I8, src, dst, params: SramAddr::NONE, len: 6 };
    assert!(bad.footprint().is_err(), "quantizing needs params");
}

/// `convert_cmd`'s f32 -> i8 fast path equals `numerics::convert` bit for bit, on random values, ties, NaN,
/// infinities, subnormals and values far outside the int8 range, with odd scales and zero points.
#[test]
fn convert_fast_quantize_matches_numerics() {
    let mut rng = SplitMix64::new(5);
    let mut x: Vec<f32> = (0..4000).map(|_| f32::from_bits(rng.next_u64() as u32)).collect();
    x.extend((0..4000).map(|i| (i as f32 - 2000.0) * 0.125));
    x.extend([f32::NAN, f32::INFINITY, f32::NEG_INFINITY, -0.0, 1e-45, -1e-45, 0.5, 1.5, 2.5, -2.5, 1e30]);
    x.extend([1048576.0, 1048700.0, 1048703.0, 1048704.0, -1048576.0, -1048700.0, -1048831.0, 2097151.0, 2097152.0]);
    x.extend([2097153.0, -2097153.0, 4194305.0, 1e7, -1e7]);
    let zeros = [(1.0, 1 << 20), (1.0, -(1 << 20)), (1.0, (1 << 20) + 1), (0.5, -(1 << 20) - 1), (2.0, i32::MIN)];
    for p in [(0.01, 4), (0.25, -128), (1.0, 127), (3.3e-5, 0), (7.5, -300), (1e-38, 1000), (0.0, 3), (-0.5, 2)]
        .into_iter()
        .chain(zeros)
    {
        let p = nx::ConvertParams { scale: p.0, zero: p.1 };
        let mut s = Sram::new();
        let (src, pa, dst) = (s.put(&floats(&x)), s.put(&p.to_le_bytes()), s.reserve(x.len()));
        let cmd = Command::Convert { from: DType::F32, to: DType::I8, src, dst, params: pa, len: x.len() as u32 };
        convert_cmd(&mut s.mem, &cmd).unwrap();
        let mut want = vec![0u8; x.len()];
        nx::convert(DType::F32, DType::I8, Some(p), &floats(&x), &mut want).unwrap();
        assert_eq!(&s.mem[dst.0 as usize..][..x.len()], &want[..], "{p:?}");
    }
}

/// Every conversion of `convert_cmd` (the i8 -> f32 / bf16 lookups, the f32 -> i8 fast path, the rest through
/// `numerics::convert`) equals `numerics::convert` bit for bit, with the source before, after, or overlapping
/// the destination (read before written, as a copy would).
#[test]
fn convert_cmd_matches_numerics_at_any_placement() {
    let mut rng = SplitMix64::new(6);
    let n = 300;
    let i8s: Vec<u8> = (0..n).map(|i| if i < 256 { i as u8 } else { rng.next_u64() as u8 }).collect();
    let mut f32s: Vec<f32> = (0..n).map(|i| (i as f32 - 150.0) * 0.37).collect();
    f32s[..4].copy_from_slice(&[f32::NAN, f32::INFINITY, -0.0, 1e30]);
    let bf16s = bf16_bytes(&f32s.iter().map(|&v| bf16::from_f32(v)).collect::<Vec<_>>());
    let params = [nx::ConvertParams { scale: 0.05, zero: -3 }, nx::ConvertParams { scale: 3e-7, zero: 1 << 30 }];
    for p in params {
        for (from, to, src) in [
            (DType::I8, DType::F32, i8s.clone()),
            (DType::I8, DType::BF16, i8s.clone()),
            (DType::F32, DType::I8, floats(&f32s)),
            (DType::BF16, DType::I8, bf16s.clone()),
            (DType::F32, DType::BF16, floats(&f32s)),
        ] {
            let needs = nx::convert::supported(from, to).unwrap();
            let p = needs.then_some(p);
            let mut want = vec![0u8; n * to.size()];
            nx::convert(from, to, p, &src, &mut want).unwrap();
            let span = src.len().max(want.len());
            // Source at `a`, destination at `b` (bytes from the start of a 2 x span region): apart both ways,
            // the same start, and overlapping by part.
            for (a, b) in [(0, span), (span, 0), (64, 64), (64, 64 + span / 3), (64 + span / 3, 64)] {
                let mut mem = vec![0xA5u8; 2 * span + 128];
                mem[a..a + src.len()].copy_from_slice(&src);
                let pa = mem.len() as u32;
                if let Some(p) = p {
                    mem.extend_from_slice(&p.to_le_bytes());
                }
                let params = if needs { SramAddr(pa) } else { SramAddr::NONE };
                let cmd = Command::Convert {
                    from,
                    to,
                    src: SramAddr(a as u32),
                    dst: SramAddr(b as u32),
                    params,
                    len: n as u32,
                };
                convert_cmd(&mut mem, &cmd).unwrap();
                assert_eq!(&mem[b..b + want.len()], &want[..], "{from} -> {to} {p:?} src {a} dst {b}");
            }
        }
    }
}

/// The vectorized plane requantization equals `numerics::output` bit for bit, over accumulators from the
/// whole i32 range and every shift (including the extremes a hostile blob may carry), zero points and
/// clamps (including an empty clamp range).
#[test]
fn requant_plane_matches_numerics() {
    let mut rng = SplitMix64::new(99);
    let mut acc: Vec<i32> = (0..257).map(|_| rng.next_u64() as i32 >> (rng.next_u64() % 32)).collect();
    acc.extend([i32::MIN, i32::MAX, 0, -1, 1]);
    for shift in [-31, -20, -1, 0, 1, 7, 30, 31, i32::MIN, i32::MAX] {
        for m in [0, 1, -1, 1 << 30, i32::MAX, i32::MIN, rng.next_u64() as i32] {
            for (y_zero, y_min, y_max) in [
                (0, -128, 127),
                (-128, 0, 127),
                (17, -5, 90),
                (3, 100, -100),
                (1 << 20, 300, -300),
                ((1 << 30) - 1, -128, 127),
                (1 << 30, -128, 127),
                (-(1 << 30), -128, 127),
                (i32::MIN, -128, 127),
                (i32::MAX, -100, 100),
            ] {
                let header = QuantHeader { y_zero, y_min, y_max, ..Default::default() };
                let mut out = vec![0i8; acc.len()];
                dispatch(RequantPlane { acc: &acc, out: &mut out, param: (m, shift), header: &header, residual: None });
                for (&a, &o) in acc.iter().zip(&out) {
                    assert_eq!(o, output(a, (m, shift), &header, None), "acc {a} m {m} shift {shift} {header:?}");
                }
                // With a residual, its own zero point, multiplier and shift (the same sweep, reversed).
                let (r_mult, r_shift) = (m.wrapping_neg() | 1, shift.wrapping_neg());
                let header = QuantHeader { r_zero: 5, r_mult, r_shift, ..header };
                let res: Vec<i8> = acc.iter().map(|&a| (a >> 3) as i8).collect();
                let residual = Some(res.as_slice());
                dispatch(RequantPlane { acc: &acc, out: &mut out, param: (m, shift), header: &header, residual });
                for ((&a, &o), &r) in acc.iter().zip(&out).zip(&res) {
                    assert_eq!(o, output(a, (m, shift), &header, Some(r)), "acc {a} residual {r} {header:?}");
                }
            }
        }
    }
}

/// The residual form of `RequantPlane` in the parameters of its i64 path (a residual zero point in int8 and
/// the residual's grid at most 21 bits coarser than the accumulator's, up to the extremes of both multipliers
/// and of the accumulator) and outside them (22 bits and more, the other way round, a zero point outside int8),
/// where it takes the definition: bit for bit `numerics::output` everywhere.
#[test]
fn requant_plane_with_residual_matches_numerics_at_the_edges() {
    let mut rng = SplitMix64::new(7);
    let mut acc: Vec<i32> = (0..256).map(|_| rng.next_u64() as i32 >> (rng.next_u64() % 32)).collect();
    acc.extend([i32::MIN, i32::MAX, i32::MIN + 1, 0, -1, 1]);
    acc.extend([i32::MIN, i32::MAX]);
    let mut res: Vec<i8> = (0..acc.len() - 2).map(|i| (i as i32 * 37 + 11) as u8 as i8).collect();
    res.extend([-128, 127]);
    for shift in [-31, -20, -13, -1, 0, 30] {
        for up in [-1, 0, 1, 13, 21, 22, 23, 30, 61] {
            let r_shift = shift + up;
            for (m, r_mult) in [(1 << 30, 1 << 30), (i32::MAX, i32::MAX), (i32::MIN, i32::MIN), (12345, -7), (0, 1)] {
                for r_zero in [-128, 0, 5, 127, 128, -300] {
                    let header = QuantHeader { y_zero: -3, r_zero, r_mult, r_shift, ..Default::default() };
                    let mut out = vec![0i8; acc.len()];
                    let residual = Some(res.as_slice());
                    dispatch(RequantPlane { acc: &acc, out: &mut out, param: (m, shift), header: &header, residual });
                    for ((&a, &o), &r) in acc.iter().zip(&out).zip(&res) {
                        let want = output(a, (m, shift), &header, Some(r));
                        assert_eq!(o, want, "acc {a} residual {r} m {m} shift {shift} {header:?}");
                    }
                }
            }
        }
    }
}

/// `RequantPlane` on every pairing of grids a residual's sum can have: the residual's grid finer than the
/// accumulator's, coarser by more than 21 bits (a residual layer with a small accumulator factor), equal, and
/// at the `2^-62` limit where it takes the definition; with and without a fused LeakyReLU (also without a
/// residual), residual zero points outside int8 and extreme accumulators and multipliers: bit for bit
/// `numerics::output`.
#[test]
fn requant_plane_with_fine_residuals_and_leaky_matches_numerics() {
    let mut rng = SplitMix64::new(21);
    let mut acc: Vec<i32> = (0..200).map(|_| rng.next_u64() as i32 >> (rng.next_u64() % 32)).collect();
    acc.extend([i32::MIN, i32::MAX, i32::MIN + 1, 0, -1, 1, 2, -2, 1 << 20, -(1 << 20)]);
    let res: Vec<i8> = (0..acc.len()).map(|i| (i as i32 * 59 + 3) as u8 as i8).collect();
    let mults = [(1 << 30, 1 << 30), (2027456457, 2142729891), (i32::MAX, i32::MIN), (i32::MIN, i32::MAX), (-7, 3)];
    let leaky = nx::requant::leaky_multiplier(0.1).unwrap();
    for shift in [-31, -30, -24, -8, 0, 30] {
        for r_shift in [-31, -30, -24, -1, 0, 1, 30] {
            for (m, r_mult) in mults {
                for neg_mult in [0, leaky, i32::MAX, i32::MIN, -5] {
                    for r_zero in [-128, 0, 127, 300, i32::MIN] {
                        let header = QuantHeader {
                            y_zero: 4,
                            y_min: -120,
                            r_zero,
                            r_mult,
                            r_shift,
                            neg_mult,
                            ..Default::default()
                        };
                        let mut out = vec![0i8; acc.len()];
                        for residual in [Some(res.as_slice()), None] {
                            dispatch(RequantPlane {
                                acc: &acc,
                                out: &mut out,
                                param: (m, shift),
                                header: &header,
                                residual,
                            });
                            for (i, (&a, &o)) in acc.iter().zip(&out).enumerate() {
                                let r = residual.map(|r| r[i]);
                                let want = output(a, (m, shift), &header, r);
                                assert_eq!(o, want, "acc {a} residual {r:?} m {m} shift {shift} {header:?}");
                            }
                        }
                    }
                }
            }
        }
    }
}

/// INT8 convolutions and matmuls whose weights come from the constants through lazy loads, on one tile whose
/// scratch and packed-weight cache stay warm across runs: every run, on the same inputs or others, must give
/// `numerics`' outputs. The same constant bytes are the weights of differently shaped commands (3x3 and 1x1
/// with the same matrix, grouped; two matmul shapes), so a cache keyed on the bytes' place alone would hand one
/// the other's panels.
#[test]
fn int8_outputs_stay_exact_with_warm_packed_weights_and_scratch() {
    use crate::sim::apply::{apply_tracked, Dram, Held};
    use crate::sim::lazy::Immutable;
    use accel_ops::command::{Copy3, DramAddr};
    let case = |c, h, k, kernel, pads: [usize; 4], groups| Case {
        c,
        h,
        w: h,
        k,
        kernel,
        stride: 1,
        dilation: 1,
        pads,
        groups,
        residual: false,
        act: None,
    };
    // 4608 weight bytes each (lazy: at least 4 KiB), all from DRAM 0.
    let convs = [case(16, 10, 32, 3, [1, 1, 1, 1], 1), case(144, 5, 32, 1, [0; 4], 1), case(32, 8, 32, 3, [1; 4], 2)];
    // 5120 bytes each from DRAM 8192; more rows than the few-row kernel takes.
    let matmuls = [(8usize, 128usize, 40usize), (9, 160, 32)];
    let mut rng = SplitMix64::new(21);
    let dram: Vec<u8> = (0..1 << 16).map(|_| (rng.next_u64() >> 56) as u8).collect();
    let fixed = Immutable { end: dram.len() as u64, image_budget: 1 << 20 };
    let (mut sram, mut held) = (vec![0u8; 1 << 17], Held::default());
    let mut outputs = Vec::new();
    for seed in [1, 1, 2, 1] {
        let mut rng = SplitMix64::new(seed);
        let mut got_run = Vec::new();
        let run = |cmds: &[Command], sram: &mut Vec<u8>, held: &mut Held| {
            for cmd in cmds {
                apply_tracked(&mut Dram::Direct(&mut dram.clone()), sram, cmd, held, fixed).unwrap();
            }
        };
        for c in &convs {
            let g = c.geom();
            let w_len = g.out_c * (g.in_c / g.groups) * c.kernel * c.kernel;
            let w: Vec<i8> = dram[..w_len].iter().map(|&v| v as i8).collect();
            let x = i8_vec(&mut rng, g.in_c * g.in_h * g.in_w);
            let b: Vec<i32> = (0..g.out_c).map(|_| (rng.next_u64() % 2001) as i32 - 1000).collect();
            let q = random_quant(&mut rng, g.out_c, false);
            let out_len = g.out_c * g.out_h * g.out_w;
            let mut want = vec![0i8; out_len];
            nx::int8::conv(&g, &x, &w, &b, &q, None, &mut want).unwrap();
            // Operands above the weights, written straight into SRAM (as a copying load would).
            let mut s = Sram { mem: sram[..0x4000].to_vec() };
            let xb: Vec<u8> = x.iter().map(|&v| v as u8).collect();
            let (xa, ba, qa) = (s.put(&xb), s.put(&words(&b)), s.put(&words(&q.to_words())));
            let ya = s.reserve(out_len);
            sram[0x4000..s.mem.len()].copy_from_slice(&s.mem[0x4000..]);
            let load = Command::Load { sram: SramAddr(0), dram: DramAddr(0), copy: Copy3::contiguous(w_len as u32) };
            let mut cmd = c.command(DType::I8, &g, xa, SramAddr(0), ba, SramAddr::NONE, qa, ya);
            if let Command::Conv { act, .. } = &mut cmd {
                *act = act_of(&q);
            }
            run(&[load, cmd], &mut sram, &mut held);
            let got: Vec<i8> = sram[ya.0 as usize..][..out_len].iter().map(|&v| v as i8).collect();
            assert_eq!(got, want, "seed {seed}: conv {g:?}");
            got_run.push(got);
        }
        for &(m, k, n) in &matmuls {
            let b: Vec<i8> = dram[8192..][..k * n].iter().map(|&v| v as i8).collect();
            let a = i8_vec(&mut rng, m * k);
            let bias: Vec<i32> = (0..n).map(|_| (rng.next_u64() % 2001) as i32 - 1000).collect();
            let q = random_quant(&mut rng, n, false);
            let mut want = vec![0i8; m * n];
            nx::int8::matmul((m, k, n), &a, &b, &bias, &q, &mut want).unwrap();
            let mut s = Sram { mem: sram[..0x4000].to_vec() };
            let ab: Vec<u8> = a.iter().map(|&v| v as u8).collect();
            let (aa, bi, qa) = (s.put(&ab), s.put(&words(&bias)), s.put(&words(&q.to_words())));
            let ya = s.reserve(m * n);
            sram[0x4000..s.mem.len()].copy_from_slice(&s.mem[0x4000..]);
            let load =
                Command::Load { sram: SramAddr(0), dram: DramAddr(8192), copy: Copy3::contiguous((k * n) as u32) };
            let (m, k, n) = (m as u32, k as u32, n as u32);
            let cmd = Command::MatMul {
                dtype: DType::I8,
                a: aa,
                b: SramAddr(0),
                bias: bi,
                quant: qa,
                output: ya,
                m,
                k,
                n,
                act: act_of(&q),
            };
            run(&[load, cmd], &mut sram, &mut held);
            let got: Vec<i8> = sram[ya.0 as usize..][..(m * n) as usize].iter().map(|&v| v as i8).collect();
            assert_eq!(got, want, "seed {seed}: matmul {m}x{k}x{n}");
            got_run.push(got);
        }
        // The end of a run.
        held.lazy.settle(&dram, &mut sram).unwrap();
        // The 3x3 and the 1x1 convolution multiply the same 32 x 144 matrix: one packing serves both.
        assert_eq!(held.mac.cached(), 4, "every packed weight is cached once");
        outputs.push(got_run);
    }
    assert!(outputs[0] == outputs[1] && outputs[1] == outputs[3], "same inputs, different outputs");
    assert!(outputs[0] != outputs[2], "different inputs, same outputs");
}
