//! The f32 convolution GEMM with output channels in the vector lanes, `C^T[n x m] = B^T * A^T`, for every
//! convolution whose B is in memory (the input planes or the phase planes). The position-lane GEMM (`packed`)
//! pads each plane to whole 16-lane halves (49 positions on 64 lanes) and, at stride or kernel > 1, also computes
//! the discarded wide columns of the phase planes; here each position is one broadcast, so only real positions
//! are computed. Even with nothing to pad its tile runs closer to the FMA peak than `packed`'s (two A vectors
//! and fourteen broadcasts per 28 multiply-adds, from one packed A stream instead of eight row streams): on the
//! ResNet-50 layers (56x56 to 7x7, 1x1 to the 7x7 stem) 45-54 GMAC/s against 36-45 on a Zen 4 core, its
//! transposition included.
//! The weights are packed once per session (`scratch`) into panels of `L_MR` channels; B is read in place, from
//! the input planes or the phase planes (`FillB::direct`); C^T goes to per-thread scratch and is transposed
//! into the output. AVX-512 only: the caller takes `packed` on other CPUs. Must not change what is computed:
//! each output is `packed`'s sum, fused multiply-adds in the same order over the same k blocks.
use super::gemm::{f32_lane_tile, isa, transpose16, Isa, LaneB, LanePos, LaneTile, L_MR, L_NP};
use super::packed::FillB;
use std::cell::RefCell;

/// k per cache block: the B values of one position tile (`KC` rows, a line or two each) stay in L1 while the
/// packed A panels of a channel block stream past them (sequential, from L2). `packed`'s block, so both GEMMs
/// add the same partial sums in the same order: the same bits whichever runs.
const KC: usize = super::packed::KC;
/// Panels per channel block: its A (`KC x MC_PANELS x L_MR` floats, 256 KiB) stays in L2 while the position
/// tiles pass.
const MC_PANELS: usize = 8;

/// Convolution weights `[groups * kg, k]` packed for the channel-lane kernel: per group, `kg.div_ceil(L_MR)`
/// panels of `k` steps of `L_MR` channel weights (zero past `kg`).
#[derive(Debug, Default)]
pub(crate) struct LanePacked {
    data: Vec<f32>,
    groups: usize,
    kg: usize,
    k: usize,
}

impl LanePacked {
    /// Packs `w` (`[groups * kg, k]`, row-major).
    pub(crate) fn pack(groups: usize, kg: usize, k: usize, w: &[f32]) -> Result<LanePacked, String> {
        let panels = kg.div_ceil(L_MR);
        let len = groups.checked_mul(panels).and_then(|x| x.checked_mul(k)?.checked_mul(L_MR));
        let rows = groups.checked_mul(kg).and_then(|r| r.checked_mul(k));
        let (Some(len), Some(rows)) = (len, rows) else { return Err("lane packing overflows".into()) };
        if rows != w.len() {
            return Err(format!("lane packing: {} weights for {groups} x {kg} x {k}", w.len()));
        }
        let mut data = vec![0.0; len];
        for grp in 0..groups {
            for ip in 0..panels {
                let panel = &mut data[(grp * panels + ip) * k * L_MR..][..k * L_MR];
                for r in 0..L_MR.min(kg - ip * L_MR) {
                    let row = &w[(grp * kg + ip * L_MR + r) * k..][..k];
                    for (step, &v) in panel.chunks_exact_mut(L_MR).zip(row) {
                        step[r] = v;
                    }
                }
            }
        }
        Ok(LanePacked { data, groups, kg, k })
    }

    pub(crate) fn bytes(&self) -> usize {
        self.data.len() * 4
    }

    /// Whether these are the packed weights of a convolution of this shape.
    pub(crate) fn matches(&self, groups: usize, kg: usize, k: usize) -> bool {
        (self.groups, self.kg, self.k) == (groups, kg, k)
    }

    /// Panel `ip` of group `grp`: `k * L_MR` floats.
    fn panel(&self, grp: usize, ip: usize) -> Option<&[f32]> {
        let at = (grp.checked_mul(self.kg.div_ceil(L_MR))?.checked_add(ip)?).checked_mul(self.k * L_MR)?;
        self.data.get(at..at.checked_add(self.k * L_MR)?)
    }
}

/// Whether the channel-lane kernel runs on this CPU.
pub(super) fn available() -> bool {
    isa() == Isa::Avx512
}

/// The transposed output, the position tiles (first position, B columns) and the B row offsets.
type Scratch = (Vec<f32>, Vec<(usize, LanePos)>, Vec<usize>);

thread_local! {
    /// This thread's `Scratch`, reused across commands (taken while in use).
    static SCRATCH: RefCell<Scratch> = const { RefCell::new((Vec::new(), Vec::new(), Vec::new())) };
}

/// Output channels `m0..m0 + mb` of group `grp` (`m0` a multiple of `L_MR`) at the `n` output positions, into
/// `y` (`[mb, n]`): output position `j` of a row of `ow` reads B column `(j / ow) * pitch + j % ow`, B rows as
/// `fill.direct` gives them.
#[allow(clippy::too_many_arguments)]
pub(super) fn gemm_lanes(
    packed: &LanePacked,
    grp: usize,
    m0: usize,
    mb: usize,
    fill: &impl FillB,
    (ow, pitch): (usize, usize),
    n: usize,
    y: &mut [f32],
) -> Result<(), String> {
    let k = packed.k;
    if m0 % L_MR != 0 || m0 + mb > packed.kg || grp >= packed.groups || y.len() != mb * n || ow == 0 {
        return Err(format!("lane gemm: block {m0}+{mb} of group {grp} does not fit its packed weights"));
    }
    if mb == 0 || n == 0 {
        return Ok(());
    }
    if k == 0 {
        y.fill(0.0);
        return Ok(());
    }
    // A row of C^T per position, 16 floats longer than its channels: rows a power of two apart would put a
    // tile's 8 rows in one L1 set, and each load 4 KiB after the previous store would wait for it.
    let (panels, ldt) = (mb.div_ceil(L_MR), mb.next_multiple_of(L_MR) + 16);
    let (mut ct, mut tiles, mut offs) = SCRATCH.with(|s| s.take());
    // Every element the transposition reads is written by the first k block: no need to zero it.
    if ct.len() < n * ldt {
        ct.resize(n * ldt, 0.0);
    }
    position_tiles(n, ow, pitch, &mut tiles);
    let r = gemm_tiles(packed, (grp, m0, panels, mb), ldt, fill, &tiles, &mut offs, &mut ct);
    if r.is_ok() {
        transpose(&ct, ldt, y, mb, n);
    }
    SCRATCH.with(|s| s.replace((ct, tiles, offs)));
    r
}

/// The tiles of `n` output positions in rows of `ow` (B row pitch `pitch`), as (first position, B columns):
/// rows of at most `L_NP / 2` positions two at a time (a 7x7 plane as 3 x 14 + 7), longer rows cut into
/// balanced runs of at most `L_NP` (14 as one, 28 as 14 + 14, 29 as 10 + 10 + 9). A tile never spans more than
/// two rows, so its B columns are at most two runs (`LanePos`).
pub(super) fn position_tiles(n: usize, ow: usize, pitch: usize, tiles: &mut Vec<(usize, LanePos)>) {
    tiles.clear();
    if ow == 0 {
        return;
    }
    let row = |r: usize| (r * ow, ow.min(n - r * ow));
    let rows = n.div_ceil(ow);
    let mut r = 0;
    while r < rows {
        let (j0, len) = row(r);
        if 2 * ow <= L_NP && r + 1 < rows && row(r + 1).1 == ow {
            tiles.push((j0, LanePos { start: r * pitch, first: ow, np: 2 * ow, pitch }));
            r += 2;
            continue;
        }
        let pieces = len.div_ceil(L_NP);
        let (base, extra) = (len / pieces, len % pieces);
        let mut c0 = 0;
        for i in 0..pieces {
            let np = base + usize::from(i < extra);
            tiles.push((j0 + c0, LanePos { start: r * pitch + c0, first: np, np, pitch }));
            c0 += np;
        }
        r += 1;
    }
}

/// The GEMM into `ct` (`n` rows `ldt` apart) for `panels` panels of channels from `m0`, of which the first
/// `mb` are kept: per k block, per block of channels, per tile of positions (`position_tiles`), per panel of
/// `L_MR` channels.
#[allow(clippy::too_many_arguments)]
fn gemm_tiles(
    packed: &LanePacked,
    (grp, m0, panels, mb): (usize, usize, usize, usize),
    ldt: usize,
    fill: &impl FillB,
    tiles: &[(usize, LanePos)],
    offs: &mut Vec<usize>,
    ct: &mut [f32],
) -> Result<(), String> {
    let k = packed.k;
    for k0 in (0..k).step_by(KC) {
        let k1 = (k0 + KC).min(k);
        let b = fill.direct(k0, k1, offs).ok_or("lane gemm: B is not in memory")?;
        let lb = LaneB::new(b, offs);
        for ip0 in (0..panels).step_by(MC_PANELS) {
            for &(j0, pos) in tiles {
                for ip in ip0..(ip0 + MC_PANELS).min(panels) {
                    let panel = packed.panel(grp, m0 / L_MR + ip).ok_or("lane gemm: no such weight panel")?;
                    let c = ct.get_mut(j0 * ldt + ip * L_MR..).ok_or("lane gemm: tile outside its scratch")?;
                    // A last panel of at most 16 channels takes the half tile (`mb` 103 as 96 + 16, not 128).
                    let half = ((ip + 1) * L_MR).saturating_sub(mb) >= L_MR / 2;
                    let mut tile = LaneTile { c, ldt, accumulate: k0 > 0, half };
                    if f32_lane_tile(&panel[k0 * L_MR..k1 * L_MR], &lb, pos, &mut tile) != Some(true) {
                        return Err("lane gemm: a tile does not fit its operands".into());
                    }
                }
            }
        }
    }
    Ok(())
}

/// `y[r][j] = ct[j * ldt + r]` for `r < mb`, `j < n`: blocks of 16 x 16 in registers (`transpose16`), the
/// edge ones too (a 7x7 plane is 3 blocks and one position wide, a row of 7 or 28 positions is all edge), or
/// one value at a time without AVX-512.
fn transpose(ct: &[f32], ldt: usize, y: &mut [f32], mb: usize, n: usize) {
    let mut blocks = (0..n).step_by(16).flat_map(|j0| (0..mb).step_by(16).map(move |r0| (j0, r0)));
    let whole = blocks.all(|(j0, r0)| {
        let (cols, rows) = ((n - j0).min(16), (mb - r0).min(16));
        transpose16(&ct[j0 * ldt + r0..], ldt, cols, &mut y[r0 * n + j0..], n, rows)
    });
    if !whole {
        for (r, yrow) in y.chunks_exact_mut(n).enumerate().take(mb) {
            for (j, d) in yrow.iter_mut().enumerate() {
                *d = ct[j * ldt + r];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{position_tiles, L_NP};

    /// The tiles cover every position once, in order, each reading the B column `j / ow * pitch + j % ow` of its
    /// position `j`, as at most `L_NP` positions in one run or two runs of one row each.
    #[test]
    fn position_tiles_cover_every_position_at_its_column() {
        let mut tiles = Vec::new();
        for ow in 1..=40 {
            for rows in [1usize, 2, 3, 7] {
                for (n, pitch) in [(ow * rows, ow), (ow * rows, ow + 2), (ow * rows - ow / 2, ow + 1)] {
                    position_tiles(n, ow, pitch, &mut tiles);
                    let mut next = 0;
                    for &(j0, p) in &tiles {
                        assert_eq!(j0, next, "n {n} ow {ow}: tiles out of order");
                        assert!((1..=L_NP).contains(&p.np) && (p.first == p.np || 2 * p.first == p.np), "{p:?}");
                        for j in 0..p.np {
                            let col = if j < p.first { p.start + j } else { p.start + p.pitch + j - p.first };
                            let want = (j0 + j) / ow * pitch + (j0 + j) % ow;
                            assert_eq!(col, want, "n {n} ow {ow} pitch {pitch}: position {}", j0 + j);
                        }
                        next += p.np;
                    }
                    assert_eq!(next, n, "n {n} ow {ow}: positions left out");
                }
            }
        }
        // Balanced runs that fit the planes: a 7x7 plane as 14 x 3 + 7, a row of 29 as 10 + 10 + 9.
        position_tiles(49, 7, 9, &mut tiles);
        assert_eq!(tiles.iter().map(|t| t.1.np).collect::<Vec<_>>(), [14, 14, 14, 7]);
        position_tiles(29, 29, 31, &mut tiles);
        assert_eq!(tiles.iter().map(|t| t.1.np).collect::<Vec<_>>(), [10, 10, 9]);
    }

    /// The blocked transposition (16 x 16 blocks in registers, the edge blocks under masks) puts every value
    /// where the definition does and writes nothing else, for shapes with and without whole blocks and row
    /// pitches with slack.
    #[test]
    fn transpose_puts_every_value_in_place() {
        for (mb, n) in
            [(1usize, 1usize), (16, 16), (32, 49), (40, 49), (64, 28), (15, 33), (17, 15), (96, 7), (33, 196), (171, 7)]
        {
            let ldt = mb.next_multiple_of(32) + 16;
            let ct: Vec<f32> = (0..n * ldt).map(|i| i as f32 * 0.5 - 7.0).collect();
            // 40 floats past the output: a store past a block's edge would change them.
            let mut y = vec![f32::NAN; mb * n + 40];
            super::transpose(&ct, ldt, &mut y, mb, n);
            for r in 0..mb {
                for j in 0..n {
                    assert_eq!(y[r * n + j].to_bits(), ct[j * ldt + r].to_bits(), "{mb}x{n}: [{r}][{j}]");
                }
            }
            assert!(y[mb * n..].iter().all(|v| v.is_nan()), "{mb}x{n}: wrote past the output");
        }
    }
}
