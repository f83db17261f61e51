//! Tiling arithmetic: output-row stripes with input halos for windowed operators, channel chunks, flat chunks.
//! Pure functions, tested on their own.

/// One stripe of output rows and the input rows it reads, with the padding that falls inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stripe {
    pub out_row0: usize,
    pub out_rows: usize,
    pub in_row0: usize,
    pub in_rows: usize,
    pub pad_top: usize,
    pub pad_bottom: usize,
}

/// Geometry of a windowed operator along the row axis.
#[derive(Debug, Clone, Copy)]
pub struct RowWindow {
    pub in_h: usize,
    pub kernel: usize,
    pub stride: usize,
    pub dilation: usize,
    pub pad_top: usize,
}

impl RowWindow {
    /// Input rows read by output rows `[o0, o0 + n)`, clipped to the input, and the padding inside the stripe.
    pub fn stripe(&self, o0: usize, n: usize) -> Stripe {
        let first = (o0 * self.stride) as isize - self.pad_top as isize;
        let last = ((o0 + n - 1) * self.stride + self.dilation * (self.kernel - 1)) as isize - self.pad_top as isize;
        let lo = first.max(0) as usize;
        let hi = (last.min(self.in_h as isize - 1)).max(first.max(0)) as usize;
        Stripe {
            out_row0: o0,
            out_rows: n,
            in_row0: lo,
            in_rows: hi + 1 - lo,
            pad_top: (-first).max(0) as usize,
            pad_bottom: (last - (self.in_h as isize - 1)).max(0) as usize,
        }
    }

    /// Input rows a stripe of `n` output rows needs at most (for SRAM sizing).
    pub fn rows_for(&self, n: usize) -> usize {
        ((n - 1) * self.stride + self.dilation * (self.kernel - 1) + 1).min(self.in_h)
    }
}

/// Splits `total` into chunks of at most `chunk` (the last may be shorter).
pub fn chunks(total: usize, chunk: usize) -> Vec<(usize, usize)> {
    let chunk = chunk.max(1);
    (0..total).step_by(chunk).map(|s| (s, chunk.min(total - s))).collect()
}

/// Rounds `x` up to a multiple of 64 (SRAM and DRAM alignment).
pub fn align64(x: u64) -> u64 {
    x.next_multiple_of(64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stripes_carry_halos_and_border_padding() {
        let w = RowWindow { in_h: 8, kernel: 3, stride: 1, dilation: 1, pad_top: 1 };
        let top = w.stripe(0, 4);
        assert_eq!((top.in_row0, top.in_rows, top.pad_top, top.pad_bottom), (0, 5, 1, 0));
        let bottom = w.stripe(4, 4);
        assert_eq!((bottom.in_row0, bottom.in_rows, bottom.pad_top, bottom.pad_bottom), (3, 5, 0, 1));
    }

    #[test]
    fn strided_stripe_reads_the_right_rows() {
        let w = RowWindow { in_h: 224, kernel: 7, stride: 2, dilation: 1, pad_top: 3 };
        let s = w.stripe(10, 5);
        assert_eq!(s.in_row0, 17);
        assert_eq!(s.in_rows, 15);
        assert_eq!(w.rows_for(1), 7);
    }

    #[test]
    fn chunks_cover_exactly() {
        assert_eq!(chunks(10, 4), vec![(0, 4), (4, 4), (8, 2)]);
    }
}
