//! Lazy DMA loads: a load from DRAM that nothing changes during the run (the constants: weights, biases)
//! records where its bytes are instead of copying them into SRAM, because copying hundreds of MB of weights
//! per frame into SRAM, only for a MAC to read them once, doubled the memory traffic of the fully connected
//! layers. The bytes stay in DRAM (a load that is contiguous on both sides) or in an image of a strided load's
//! runs, gathered once per session and shared by every later load of the same DRAM runs. MAC and vector
//! commands read such an operand in place (`Operands`); any other access to a pending range first copies its
//! bytes in (`prepare`), and a write takes what it overwrites out of the pending ranges. So every command
//! sees exactly the bytes a copying model would give it, and `settle` makes SRAM identical at the end of a
//! run. Timing does not look here: a load's cycles come from its metadata. What is immutable is decided by
//! the session; this module must never copy less than a command can observe.
use super::memory::{bytes, bytes_mut};
use accel_ops::command::{Access, Copy3, Space};
use std::collections::{BTreeMap, HashMap};

/// Smaller loads are copied: the copy is cheap, and it bounds the number of pending ranges per tile.
const MIN_LAZY_BYTES: u64 = 4096;

/// Where a pending range's bytes are. Also the key of what is derived from them (`scratch`'s packed weights):
/// the bytes there do not change while the immutable range and the images stay.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Source {
    /// At this DRAM address, contiguous.
    Dram(u64),
    /// In image `index` of the tile's `Images`, from byte `offset`.
    Image { index: usize, offset: u64 },
}

impl Source {
    /// Where the bytes `by` further on are.
    fn advanced(self, by: u64) -> Source {
        match self {
            Source::Dram(d) => Source::Dram(d.saturating_add(by)),
            Source::Image { index, offset } => Source::Image { index, offset: offset.saturating_add(by) },
        }
    }
}

/// An SRAM range `start..end` (keyed by `start`) whose bytes are still at `src`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Pending {
    end: u64,
    src: Source,
}

/// The packed runs of strided loads from immutable DRAM, by (DRAM address, copy shape), kept across runs
/// while the immutable range stays the same.
#[derive(Debug, Default)]
struct Images {
    index: HashMap<(u64, Copy3), usize>,
    data: Vec<Vec<u8>>,
    bytes: u64,
}

/// One tile's pending loads and images.
#[derive(Debug, Default)]
pub(crate) struct Lazy {
    /// Disjoint ranges, by start.
    pending: BTreeMap<u64, Pending>,
    images: Images,
}

/// What a run may treat as immutable, and how much memory strided images may take on this tile.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Immutable {
    /// DRAM below this never changes during the run (0: nothing is lazy).
    pub(crate) end: u64,
    pub(crate) image_budget: u64,
}

/// Whether the runs of `c` are packed back to back on the side with strides `s1`, `s2`.
fn dense(c: &Copy3, s1: u64, s2: u64) -> bool {
    let len = c.len as u64;
    (c.n1 <= 1 || s1 == len) && (c.n2 <= 1 || Some(s2) == len.checked_mul(c.n1 as u64))
}

/// Whether a load writes every byte of its SRAM footprint (its runs are packed in SRAM).
pub(crate) fn dense_in_sram(c: &Copy3) -> bool {
    dense(c, c.sram_stride1 as u64, c.sram_stride2 as u64)
}

impl Lazy {
    /// Pending ranges that overlap `start..end`, as (start, pending).
    fn overlapping(&self, start: u64, end: u64) -> impl Iterator<Item = (u64, Pending)> + '_ {
        self.pending.range(..end).rev().take_while(move |(_, p)| p.end > start).map(|(&s, &p)| (s, p))
    }

    /// The bytes of a pending range (`len` of them) where they are now.
    fn source<'a>(&'a self, dram: &'a [u8], src: Source, len: u64) -> Result<&'a [u8], String> {
        match src {
            Source::Dram(d) => bytes(dram, d, len),
            Source::Image { index, offset } => {
                let image = self.images.data.get(index).ok_or("pending load without its image")?;
                bytes(image, offset, len)
            }
        }
    }

    /// Takes `start..end` out of the pending ranges (what lies outside stays pending); with `copy`, first copies
    /// its pending bytes into SRAM. Returns whether any range overlapped.
    fn cut(&mut self, dram: &[u8], sram: &mut [u8], start: u64, end: u64, copy: bool) -> Result<bool, String> {
        let hits: Vec<(u64, Pending)> = self.overlapping(start, end).collect();
        for &(s, p) in &hits {
            self.pending.remove(&s);
            let (a, b) = (s.max(start), p.end.min(end));
            if copy && b > a {
                let from = self.source(dram, p.src.advanced(a - s), b - a)?;
                bytes_mut(sram, a, b - a)?.copy_from_slice(from);
            }
            if s < a {
                self.pending.insert(s, Pending { end: a, src: p.src });
            }
            if b < p.end {
                self.pending.insert(b, Pending { end: p.end, src: p.src.advanced(b - s) });
            }
        }
        Ok(!hits.is_empty())
    }

    /// Copies every pending range into SRAM: the end of a run.
    pub(crate) fn settle(&mut self, dram: &[u8], sram: &mut [u8]) -> Result<(), String> {
        self.cut(dram, sram, 0, u64::MAX, true).map(|_| ())
    }

    /// Whether `start..end` overlaps no pending range, or lies inside one (then `Operands` can read it).
    fn readable(&self, start: u64, end: u64) -> bool {
        let mut hits = self.overlapping(start, end);
        match (hits.next(), hits.next()) {
            (None, _) => true,
            (Some((s, p)), None) => s <= start && p.end >= end,
            _ => false,
        }
    }

    /// Forgets pending ranges and images (the immutable DRAM changed).
    pub(crate) fn clear(&mut self) {
        self.pending.clear();
        self.images = Images::default();
    }

    /// Makes SRAM right for a command with these `accesses`: copies in the pending bytes it touches, except
    /// those of reads that `Operands` serves (`in_place`: the command reads its SRAM operands through it) and
    /// under writes that overwrite every byte of their range (`dense`). Call `written` after the command.
    pub(crate) fn prepare(
        &mut self,
        dram: &[u8],
        sram: &mut [u8],
        accesses: &[Access],
        in_place: bool,
        dense: bool,
    ) -> Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        // Until nothing changes: a cut for one access can leave another read straddling a pending range.
        loop {
            let mut changed = false;
            for a in accesses.iter().filter(|a| a.space == Space::Sram) {
                let served = if a.write { dense } else { in_place && self.readable(a.start, a.end()) };
                if !served {
                    changed |= self.cut(dram, sram, a.start, a.end(), true)?;
                }
            }
            if !changed {
                return Ok(());
            }
        }
    }

    /// Takes what a command's SRAM writes covered out of the pending ranges.
    pub(crate) fn written(&mut self, accesses: &[Access]) -> Result<(), String> {
        if self.pending.is_empty() {
            return Ok(());
        }
        for a in accesses.iter().filter(|a| a.space == Space::Sram && a.write) {
            self.cut(&[], &mut [], a.start, a.end(), false)?;
        }
        Ok(())
    }

    /// Records a load of `copy` from DRAM `dram_at` (inside immutable DRAM) to SRAM `to` without copying, if
    /// it qualifies: packed in SRAM, big enough, and contiguous in DRAM or within the image budget. Returns
    /// whether it did; the caller has run `prepare` and `written` for the load's footprint (the range is free).
    pub(crate) fn record(
        &mut self,
        dram: &[u8],
        to: &Access,
        dram_at: u64,
        copy: &Copy3,
        budget: u64,
    ) -> Result<bool, String> {
        let Some(src) = self.source_for(dram, to.len, dram_at, copy, budget)? else { return Ok(false) };
        self.pending.insert(to.start, Pending { end: to.end(), src });
        Ok(true)
    }

    /// Whether the same load was recorded at `to` and is still pending (then it need not run again).
    pub(crate) fn holds(&self, to: &Access, dram_at: u64, copy: &Copy3) -> bool {
        let Some(p) = self.pending.get(&to.start) else { return false };
        p.end == to.end()
            && match p.src {
                Source::Dram(d) => d == dram_at && dense(copy, copy.dram_stride1, copy.dram_stride2),
                Source::Image { index, offset } => {
                    offset == 0 && self.images.index.get(&(dram_at, *copy)) == Some(&index)
                }
            }
    }

    /// Whether a load of `copy` (of `len` bytes in SRAM) may be lazy.
    fn qualifies(len: u64, copy: &Copy3) -> bool {
        len >= MIN_LAZY_BYTES && dense_in_sram(copy) && copy.bytes() == Some(len)
    }

    fn source_for(
        &mut self,
        dram: &[u8],
        len: u64,
        dram_at: u64,
        copy: &Copy3,
        budget: u64,
    ) -> Result<Option<Source>, String> {
        if !Self::qualifies(len, copy) {
            return Ok(None);
        }
        if dense(copy, copy.dram_stride1, copy.dram_stride2) {
            bytes(dram, dram_at, len)?;
            return Ok(Some(Source::Dram(dram_at)));
        }
        if let Some(&i) = self.images.index.get(&(dram_at, *copy)) {
            return Ok(Some(Source::Image { index: i, offset: 0 }));
        }
        if self.images.bytes.saturating_add(len) > budget {
            return Ok(None);
        }
        let mut image = Vec::new();
        image.try_reserve_exact(usize::try_from(len).map_err(|_| "load too large")?).map_err(|e| e.to_string())?;
        let run = copy.len as u64;
        for i2 in 0..copy.n2 as u64 {
            for i1 in 0..copy.n1 as u64 {
                let at = i2
                    .checked_mul(copy.dram_stride2)
                    .and_then(|a| a.checked_add(i1.checked_mul(copy.dram_stride1)?))
                    .and_then(|a| a.checked_add(dram_at))
                    .ok_or("strided address overflows")?;
                image.extend_from_slice(bytes(dram, at, run)?);
            }
        }
        let i = self.images.data.len();
        self.images.data.push(image);
        self.images.bytes += len;
        self.images.index.insert((dram_at, *copy), i);
        Ok(Some(Source::Image { index: i, offset: 0 }))
    }

    /// `sram` with every pending range's bytes in place (for tests).
    #[cfg(test)]
    pub(crate) fn view(&self, dram: &[u8], sram: &[u8]) -> Vec<u8> {
        let mut out = sram.to_vec();
        for (&s, p) in &self.pending {
            let from = self.source(dram, p.src, p.end - s).expect("pending bytes");
            out[s as usize..p.end as usize].copy_from_slice(from);
        }
        out
    }

    /// Pending ranges (for tests).
    #[cfg(test)]
    pub(crate) fn pending_count(&self) -> usize {
        self.pending.len()
    }
}

/// A tile's SRAM operands as a command sees them: a range that a pending load covers is read where the bytes
/// are, everything else from SRAM.
#[derive(Clone, Copy)]
pub(crate) struct Operands<'a> {
    pub(crate) dram: &'a [u8],
    pub(crate) lazy: &'a Lazy,
}

/// Where an operand's bytes are while they stay unchanged (see `Source`).
pub(crate) type Origin = Source;

impl<'a> Operands<'a> {
    /// Where the bytes of SRAM `start..start + len` are, if one pending range holds all of them.
    pub(crate) fn origin(&self, start: u64, len: u64) -> Option<Origin> {
        let end = start.checked_add(len)?;
        let mut hits = self.lazy.overlapping(start, end);
        let (s, p) = hits.next()?;
        (len > 0 && s <= start && p.end >= end).then(|| p.src.advanced(start - s))
    }

    /// The bytes of SRAM `start..start + len` if a pending range holds all of them, `None` if none holds
    /// any; an operand that straddles a pending range is an error (`prepare` copies those in first).
    pub(crate) fn pending(&self, start: u64, len: u64) -> Result<Option<&'a [u8]>, String> {
        if len == 0 {
            return Ok(None);
        }
        let end = start.checked_add(len).ok_or("operand address overflows")?;
        let mut hits = self.lazy.overlapping(start, end);
        let Some((s, p)) = hits.next() else { return Ok(None) };
        if s > start || p.end < end {
            return Err(format!("operand s:{start:#x}+{len} straddles a pending load at s:{s:#x}"));
        }
        let all = self.lazy.source(self.dram, p.src, p.end - s)?;
        Ok(all.get((start - s) as usize..(end - s) as usize))
    }

    /// The bytes of SRAM `start..start + len` as a copying model would hold them.
    pub(crate) fn read<'b>(&self, sram: &'b [u8], start: u64, len: u64) -> Result<&'b [u8], String>
    where
        'a: 'b,
    {
        match self.pending(start, len)? {
            Some(b) => Ok(b),
            None => bytes(sram, start, len),
        }
    }
}
