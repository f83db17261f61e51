//! The INT8 convolution's GEMM operand without im2col: each input channel laid out once in the zero-point
//! padded phase planes of `depthwise_i8::Plan` (`P[pr][pc][i][j] = x[i*sh + pr - pad_top][j*sw + pc -
//! pad_left]`, `x_zero` outside the input, which is what im2col pads with). With the outputs computed `wq`
//! wide (the extra columns are discarded), row `(ic, ky, kx)` of the GEMM's B is one contiguous run of a
//! phase plane, so the packing reads B in place, at any stride, padding or dilation. It decides only the
//! layout; `int8::conv_i8_packed` owns the arithmetic.
use super::conv::ConvGeom;
use super::depthwise_i8::Plan;

/// One convolution's phase-plane layout (per input channel of a group).
pub(super) struct PhaseI8 {
    plan: Plan,
    /// Bytes of one input channel's phase planes.
    chan: usize,
}

impl PhaseI8 {
    /// The layout, when the planes are of reasonable size (`Plan::new`) and the wide outputs cost at most
    /// about half again the real ones (a 1-wide output under a 7-wide kernel would compute 7 columns per one
    /// kept: im2col then does less work).
    pub(super) fn new(g: &ConvGeom) -> Option<PhaseI8> {
        let plan = Plan::new(g)?;
        let n = g.out_h * g.out_w;
        if g.out_h * plan.wq > n + n / 2 + super::gemm_i8::I8_NR {
            return None;
        }
        let chan = plan.phases.len() * plan.hq * plan.wq;
        Some(PhaseI8 { plan, chan })
    }

    /// Output columns the GEMM computes: `out_h` rows of `wq`.
    pub(super) fn cols(&self, g: &ConvGeom) -> usize {
        g.out_h * self.plan.wq
    }

    /// The row pitch of the GEMM's wide output.
    pub(super) fn wq(&self) -> usize {
        self.plan.wq
    }

    /// Fills `buf` with the phase planes of the `cg` channels `xg` (each `in_h x in_w`), and `rows` with the
    /// start of each GEMM row `(ic, ky, kx)` in it: B's row `r`, column `p` is `buf[rows[r] + p]` for every `p <
    /// cols()`.
    pub(super) fn fill(&self, g: &ConvGeom, xg: &[i8], x_zero: i8, buf: &mut Vec<i8>, rows: &mut Vec<usize>) {
        let cg = g.in_c / g.groups;
        let (wq, hq) = (self.plan.wq, self.plan.hq);
        let sw = g.stride[1];
        let plane = g.in_h * g.in_w;
        buf.clear();
        buf.resize(cg * self.chan, x_zero);
        for (xc, planes) in xg.chunks_exact(plane.max(1)).take(cg).zip(buf.chunks_exact_mut(self.chan)) {
            for (&(pr, pc), pp) in self.plan.phases.iter().zip(planes.chunks_exact_mut(hq * wq)) {
                let Some((j0, j1, ix0)) = self.plan.phase_cols(g, pc) else { continue };
                for (i, prow) in pp.chunks_exact_mut(wq).enumerate() {
                    let Some(iy) = Plan::phase_row(g, pr, i) else { continue };
                    let src = &xc[iy * g.in_w + ix0..(iy + 1) * g.in_w];
                    let dst = &mut prow[j0..j1];
                    match sw {
                        1 => dst.copy_from_slice(&src[..dst.len()]),
                        2 => every::<2>(dst, src),
                        _ => dst.iter_mut().zip(src.iter().step_by(sw)).for_each(|(d, &v)| *d = v),
                    }
                }
            }
        }
        rows.clear();
        rows.extend((0..cg).flat_map(|ic| self.plan.taps.iter().map(move |&(off, _)| ic * self.chan + off)));
    }
}

/// `dst[j] = src[j * S]` (`dst` has at most `ceil(src.len() / S)` elements), in whole groups of `S` so that
/// the loop vectorizes.
#[inline(always)]
fn every<const S: usize>(dst: &mut [i8], src: &[i8]) {
    let full = (src.len() / S).min(dst.len());
    let (head, tail) = dst.split_at_mut(full);
    for (d, c) in head.iter_mut().zip(src.chunks_exact(S)) {
        *d = c[0];
    }
    for (d, &v) in tail.iter_mut().zip(src[full * S..].iter().step_by(S)) {
        *d = v;
    }
}
