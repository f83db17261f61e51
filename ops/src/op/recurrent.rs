//! RNN, GRU and LSTM (speech and OCR models) as the ONNX equations define them, run as loops over the
//! sequence on the host, with the default activations (sigmoid for gates, tanh otherwise). One operator per
//! output (`output` selects Y, Y_h or Y_c), so that each node has one result; a model using several outputs
//! gets one host node for each. Operands: X, W, R, then whichever of B, sequence_lens, initial_h, initial_c
//! and P (peepholes) the model gives, as `present` records.
use super::util::arity;
use crate::error::OpError;
use crate::shape::Shape;
use crate::tensor::{Tensor, TensorType};
use crate::DType;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cell {
    Rnn,
    Gru,
    Lstm,
}

impl Cell {
    /// Gates per hidden unit: the rows of W and R are `gates * hidden`.
    fn gates(self) -> usize {
        match self {
            Cell::Rnn => 1,
            Cell::Gru => 3,
            Cell::Lstm => 4,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    Forward,
    Reverse,
    Bidirectional,
}

/// Which output the node computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RecurrentOutput {
    /// Every step's hidden state.
    Y,
    /// The last hidden state.
    YH,
    /// The last cell state (LSTM).
    YC,
}

/// Optional operands the model gives, in ONNX order after X, W, R.
pub const OPTIONAL: [&str; 5] = ["B", "sequence_lens", "initial_h", "initial_c", "P"];

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recurrent {
    pub cell: Cell,
    pub direction: Direction,
    pub hidden: usize,
    /// 1: batch-major X and outputs (`[batch, seq, ...]`); 0: sequence-major.
    pub batch_major: bool,
    /// GRU: apply the reset gate after the recurrent product (`linear_before_reset`).
    pub linear_before_reset: bool,
    /// Bound on every gate's input (`clip`), if any.
    pub clip: Option<f32>,
    /// Which of `OPTIONAL` are operands, in that order.
    pub present: [bool; 5],
    pub output: RecurrentOutput,
}

/// Sizes of one evaluation.
struct Dims {
    seq: usize,
    batch: usize,
    input: usize,
    dirs: usize,
}

impl Recurrent {
    fn dirs(&self) -> usize {
        if self.direction == Direction::Bidirectional {
            2
        } else {
            1
        }
    }

    /// The operand index of optional input `k` of `OPTIONAL`, if present.
    fn slot(&self, k: usize) -> Option<usize> {
        self.present[k].then(|| 3 + self.present[..k].iter().filter(|&&p| p).count())
    }

    fn dims(&self, inputs: &[TensorType]) -> Result<Dims, OpError> {
        let want = 3 + self.present.iter().filter(|&&p| p).count();
        arity(inputs.len(), want, want)?;
        // Every product below is at most 8 * hidden (a blob may carry any hidden size).
        if self.hidden.checked_mul(8).is_none() {
            return Err(OpError::attr("hidden_size", format!("{} is too large", self.hidden)));
        }
        if self.cell != Cell::Lstm && (self.present[3] || self.present[4]) {
            return Err(OpError::Other("initial_c and P are LSTM operands".into()));
        }
        for (i, t) in inputs.iter().enumerate() {
            let int_ok = Some(i) == self.slot(1) && matches!(t.dtype, DType::I32 | DType::I64);
            if t.dtype != DType::F32 && !int_ok {
                return Err(OpError::DType { index: i, expected: "f32".into(), got: t.dtype.to_string() });
            }
        }
        let &[a, b, input] = inputs[0].shape.dims() else {
            return Err(OpError::shape(0, format!("X must have rank 3, got {}", inputs[0].shape)));
        };
        let (seq, batch) = if self.batch_major { (b, a) } else { (a, b) };
        let (dirs, g, h) = (self.dirs(), self.cell.gates(), self.hidden);
        let expect = |i: usize, dims: &[usize]| -> Result<(), OpError> {
            if inputs[i].shape.dims() != dims {
                return Err(OpError::shape(i, format!("expected {:?}, got {}", dims, inputs[i].shape)));
            }
            Ok(())
        };
        expect(1, &[dirs, g * h, input])?;
        expect(2, &[dirs, g * h, h])?;
        let state = if self.batch_major { [batch, dirs, h] } else { [dirs, batch, h] };
        for (k, dims) in [(0, vec![dirs, 2 * g * h]), (1, vec![batch]), (2, state.to_vec()), (3, state.to_vec())] {
            if let Some(i) = self.slot(k) {
                expect(i, &dims)?;
            }
        }
        if let Some(i) = self.slot(4) {
            expect(i, &[dirs, 3 * h])?;
        }
        Ok(Dims { seq, batch, input, dirs })
    }

    /// Multiply-accumulates of one evaluation (every step's input and recurrent products), so that the importer
    /// does not fold an expensive all-constant sequence at compile time.
    pub fn macs(&self, inputs: &[TensorType]) -> u64 {
        let Ok(d) = self.dims(inputs) else { return 0 };
        let rows = (self.cell.gates() * self.hidden) as u64;
        [d.seq, d.batch, d.dirs]
            .iter()
            .fold(rows, |a, &x| a.saturating_mul(x as u64))
            .saturating_mul((d.input + self.hidden) as u64)
    }

    pub fn infer(&self, inputs: &[TensorType]) -> Result<TensorType, OpError> {
        if self.hidden == 0 {
            return Err(OpError::attr("hidden_size", "must be >= 1"));
        }
        if self.output == RecurrentOutput::YC && self.cell != Cell::Lstm {
            return Err(OpError::Other("only LSTM has a cell-state output".into()));
        }
        let d = self.dims(inputs)?;
        let h = self.hidden;
        let dims = match (self.output, self.batch_major) {
            (RecurrentOutput::Y, false) => vec![d.seq, d.dirs, d.batch, h],
            (RecurrentOutput::Y, true) => vec![d.batch, d.seq, d.dirs, h],
            (_, false) => vec![d.dirs, d.batch, h],
            (_, true) => vec![d.batch, d.dirs, h],
        };
        Ok(TensorType { dtype: DType::F32, shape: Shape(dims) })
    }

    pub fn eval(&self, inputs: &[&Tensor], out: &TensorType) -> Result<Tensor, OpError> {
        let types: Vec<TensorType> = inputs.iter().map(|t| t.ty()).collect();
        let d = self.dims(&types)?;
        let (h, g) = (self.hidden, self.cell.gates());
        let f32s = |i: usize| inputs[i].as_f32();
        let (x, w, r) = (f32s(0)?, f32s(1)?, f32s(2)?);
        let bias = self.slot(0).map(f32s).transpose()?;
        let lens: Vec<usize> = match self.slot(1) {
            Some(i) => inputs[i]
                .to_i64_vec()?
                .into_iter()
                .map(|l| usize::try_from(l).ok().filter(|&l| l <= d.seq))
                .collect::<Option<_>>()
                .ok_or_else(|| OpError::Other(format!("a sequence length is outside 0..={}", d.seq)))?,
            None => vec![d.seq; d.batch],
        };
        let init_h = self.slot(2).map(f32s).transpose()?;
        let init_c = self.slot(3).map(f32s).transpose()?;
        let peep = self.slot(4).map(f32s).transpose()?;
        // State index of (direction, batch, unit) in the `initial_*` and last-state layouts.
        let st = |dir: usize, b: usize, u: usize| {
            if self.batch_major {
                (b * d.dirs + dir) * h + u
            } else {
                (dir * d.batch + b) * h + u
            }
        };
        let y_at = |t: usize, dir: usize, b: usize, u: usize| {
            if self.batch_major {
                ((b * d.seq + t) * d.dirs + dir) * h + u
            } else {
                ((t * d.dirs + dir) * d.batch + b) * h + u
            }
        };
        let mut y = vec![0f32; d.seq * d.dirs * d.batch * h];
        let mut last_h = vec![0f32; d.dirs * d.batch * h];
        let mut last_c = vec![0f32; d.dirs * d.batch * h];
        let clip = |v: f32| self.clip.map_or(v, |c| v.clamp(-c, c));
        let sigmoid = |v: f32| 1.0 / (1.0 + (-clip(v)).exp());
        let tanh = |v: f32| clip(v).tanh();
        for dir in 0..d.dirs {
            let reverse = self.direction == Direction::Reverse || dir == 1;
            let wd = &w[dir * g * h * d.input..][..g * h * d.input];
            let rd = &r[dir * g * h * h..][..g * h * h];
            // Input and recurrent bias of gate row `row`.
            let wb = |row: usize| bias.map_or(0.0, |b| b[dir * 2 * g * h + row]);
            let rb = |row: usize| bias.map_or(0.0, |b| b[dir * 2 * g * h + g * h + row]);
            let pe = |k: usize, u: usize| peep.map_or(0.0, |p| p[dir * 3 * h + k * h + u]);
            for b in 0..d.batch {
                let mut hs: Vec<f32> = (0..h).map(|u| init_h.map_or(0.0, |v| v[st(dir, b, u)])).collect();
                let mut cs: Vec<f32> = (0..h).map(|u| init_c.map_or(0.0, |v| v[st(dir, b, u)])).collect();
                let len = lens[b];
                for step in 0..len {
                    let t = if reverse { len - 1 - step } else { step };
                    let xt = if self.batch_major {
                        &x[(b * d.seq + t) * d.input..][..d.input]
                    } else {
                        &x[(t * d.batch + b) * d.input..][..d.input]
                    };
                    let dot = |m: &[f32], row: usize, v: &[f32]| -> f32 {
                        let k = v.len();
                        m[row * k..][..k].iter().zip(v).map(|(a, b)| f64::from(*a) * f64::from(*b)).sum::<f64>() as f32
                    };
                    // Per gate row: X·W + bias (and H·R + bias, kept apart for the GRU's reset gate).
                    let xw = |row: usize| dot(wd, row, xt) + wb(row);
                    let hr = |row: usize, hv: &[f32]| dot(rd, row, hv) + rb(row);
                    let (nh, nc): (Vec<f32>, Vec<f32>) = match self.cell {
                        Cell::Rnn => ((0..h).map(|u| tanh(xw(u) + hr(u, &hs))).collect(), cs.clone()),
                        Cell::Gru => {
                            let z: Vec<f32> = (0..h).map(|u| sigmoid(xw(u) + hr(u, &hs))).collect();
                            let rg: Vec<f32> = (0..h).map(|u| sigmoid(xw(h + u) + hr(h + u, &hs))).collect();
                            let cand: Vec<f32> = if self.linear_before_reset {
                                (0..h).map(|u| tanh(xw(2 * h + u) + rg[u] * hr(2 * h + u, &hs))).collect()
                            } else {
                                let reset: Vec<f32> = hs.iter().zip(&rg).map(|(a, b)| a * b).collect();
                                (0..h).map(|u| tanh(xw(2 * h + u) + hr(2 * h + u, &reset))).collect()
                            };
                            ((0..h).map(|u| (1.0 - z[u]) * cand[u] + z[u] * hs[u]).collect(), cs.clone())
                        }
                        Cell::Lstm => {
                            let mut nh = vec![0f32; h];
                            let mut nc = vec![0f32; h];
                            for u in 0..h {
                                let i = sigmoid(xw(u) + hr(u, &hs) + pe(0, u) * cs[u]);
                                let f = sigmoid(xw(2 * h + u) + hr(2 * h + u, &hs) + pe(2, u) * cs[u]);
                                let c = tanh(xw(3 * h + u) + hr(3 * h + u, &hs));
                                nc[u] = f * cs[u] + i * c;
                                let o = sigmoid(xw(h + u) + hr(h + u, &hs) + pe(1, u) * nc[u]);
                                nh[u] = o * nc[u].tanh();
                            }
                            (nh, nc)
                        }
                    };
                    hs = nh;
                    cs = nc;
                    for u in 0..h {
                        y[y_at(t, dir, b, u)] = hs[u];
                    }
                }
                for u in 0..h {
                    last_h[st(dir, b, u)] = hs[u];
                    last_c[st(dir, b, u)] = cs[u];
                }
            }
        }
        let data = match self.output {
            RecurrentOutput::Y => y,
            RecurrentOutput::YH => last_h,
            RecurrentOutput::YC => last_c,
        };
        Tensor::from_f32(out.shape.dims().to_vec(), data)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-unit RNN with weight 0.5 on the input and 0.25 on the state: h_t = tanh(0.5 x_t + 0.25 h_{t-1}).
    #[test]
    fn rnn_follows_its_recurrence_forward_and_reverse() {
        let x = Tensor::from_f32(vec![3, 1, 1], vec![1.0, -2.0, 0.5]).unwrap();
        let w = Tensor::from_f32(vec![1, 1, 1], vec![0.5]).unwrap();
        let r = Tensor::from_f32(vec![1, 1, 1], vec![0.25]).unwrap();
        let run = |direction, output| {
            let op = Recurrent {
                cell: Cell::Rnn,
                direction,
                hidden: 1,
                batch_major: false,
                linear_before_reset: false,
                clip: None,
                present: [false; 5],
                output,
            };
            let out = op.infer(&[x.ty(), w.ty(), r.ty()]).unwrap();
            op.eval(&[&x, &w, &r], &out).unwrap().as_f32().unwrap().to_vec()
        };
        let mut h = 0f32;
        let fwd: Vec<f32> = [1.0f32, -2.0, 0.5]
            .iter()
            .map(|&v| {
                h = (0.5 * v + 0.25 * h).tanh();
                h
            })
            .collect();
        let close = |a: &[f32], b: &[f32]| a.iter().zip(b).all(|(p, q)| (p - q).abs() < 1e-6);
        assert!(close(&run(Direction::Forward, RecurrentOutput::Y), &fwd));
        assert!(close(&run(Direction::Forward, RecurrentOutput::YH), &fwd[2..]));
        // Reverse: the last element first; Y keeps each state at its time step.
        let h2 = (0.5f32 * 0.5).tanh();
        let h1 = (0.5 * -2.0 + 0.25 * h2).tanh();
        let h0 = (0.5 * 1.0 + 0.25 * h1).tanh();
        assert!(close(&run(Direction::Reverse, RecurrentOutput::Y), &[h0, h1, h2]));
        // 3 steps x 1 row x (1 input + 1 state): counted, so that the importer does not fold a costly one.
        let op = Recurrent {
            cell: Cell::Rnn,
            direction: Direction::Forward,
            hidden: 1,
            batch_major: false,
            linear_before_reset: false,
            clip: None,
            present: [false; 5],
            output: RecurrentOutput::Y,
        };
        let types = [x.ty(), w.ty(), r.ty()];
        assert_eq!(
            crate::op::Op::HostOnly(crate::op::HostOnly::Recurrent(op.clone()))
                .macs(&types, &op.infer(&types).unwrap()),
            6
        );
    }
}
