//! Rebuilding a graph with a numeric format per value: nodes are copied in order (the result stays
//! topologically ordered), each reads its inputs in the format it needs, and a conversion node (`Cast` between
//! f32 and bf16, `Quant` to or from int8) is inserted once per value and format where they differ. Graph inputs
//! and outputs keep their names and stay f32.
use crate::ir::{Graph, IrError, Node, ValueId};
use accel_ops::numerics::bf16::round_all;
use accel_ops::op::{Cast, Op, Quant};
use accel_ops::{DType, Tensor};
use std::collections::BTreeMap;

/// The format of a value in the rewritten graph.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Fmt {
    F32,
    Bf16,
    /// int8 with `real = scale * (q - zero)`.
    I8 {
        scale: f32,
        zero: i32,
    },
}

impl Fmt {
    pub fn name(&self) -> &'static str {
        match self {
            Fmt::F32 => "f32",
            Fmt::Bf16 => "bf16",
            Fmt::I8 { .. } => "i8",
        }
    }

    fn key(&self) -> (u8, u32, i32) {
        match *self {
            Fmt::F32 => (0, 0, 0),
            Fmt::Bf16 => (1, 0, 0),
            Fmt::I8 { scale, zero } => (2, scale.to_bits(), zero),
        }
    }

    /// A value of this format as f32 (dequantized or widened), for error measurements.
    pub fn to_f32(&self, t: &Tensor) -> Vec<f32> {
        match (*self, t.as_i8()) {
            (Fmt::I8 { scale, zero }, Ok(q)) => {
                q.iter().map(|&v| accel_ops::numerics::requant::dequantize(v, scale, zero)).collect()
            }
            _ => t.to_f32_vec(),
        }
    }
}

/// The graph being built from `src`.
pub struct Rewriter<'a> {
    pub src: &'a Graph,
    pub out: Graph,
    /// By source value: its value in `out` and that value's format.
    map: Vec<Option<(ValueId, Fmt)>>,
    /// Conversions made so far, by (source value, format key).
    converted: BTreeMap<(u32, (u8, u32, i32)), ValueId>,
    /// Format of every value of `out`, by id.
    pub formats: Vec<Fmt>,
    outputs: Vec<ValueId>,
}

impl<'a> Rewriter<'a> {
    pub fn new(src: &'a Graph) -> Self {
        let mut rw = Rewriter {
            src,
            out: Graph::default(),
            map: vec![None; src.values.len()],
            converted: BTreeMap::new(),
            formats: Vec::new(),
            outputs: src.outputs.clone(),
        };
        for &i in &src.inputs {
            let v = src.value(i);
            let id = rw.out.add_input(v.name.clone(), v.ty.clone());
            rw.note(id, Fmt::F32);
            rw.map[i.0 as usize] = Some((id, Fmt::F32));
        }
        rw
    }

    fn note(&mut self, id: ValueId, f: Fmt) {
        if self.formats.len() <= id.0 as usize {
            self.formats.resize(id.0 as usize + 1, Fmt::F32);
        }
        self.formats[id.0 as usize] = f;
    }

    /// The value standing for source value `v`, as it is (constants are copied on first use).
    pub fn value(&mut self, v: ValueId) -> Result<(ValueId, Fmt), IrError> {
        if let Some(m) = self.map[v.0 as usize] {
            return Ok(m);
        }
        let val = self.src.value(v);
        let Some(t) = val.constant.clone() else {
            return Err(IrError::Invalid { node: val.name.clone(), why: "used before it is computed".into() });
        };
        let fmt = if t.dtype() == DType::BF16 { Fmt::Bf16 } else { Fmt::F32 };
        let id = self.out.add_const(val.name.clone(), t);
        self.note(id, fmt);
        self.map[v.0 as usize] = Some((id, fmt));
        Ok((id, fmt))
    }

    /// A new constant (its format from its dtype: bf16, or f32 for everything else).
    pub fn constant(&mut self, name: String, t: Tensor) -> ValueId {
        let fmt = if t.dtype() == DType::BF16 { Fmt::Bf16 } else { Fmt::F32 };
        let id = self.out.add_const(name, t);
        self.note(id, fmt);
        id
    }

    /// Source value `v` in format `want`, converting (once per value and format) when it is stored otherwise.
    /// f32 constants wanted in bf16 are rounded at compile time.
    pub fn need(&mut self, v: ValueId, want: Fmt) -> Result<ValueId, IrError> {
        let (id, have) = self.value(v)?;
        if have == want {
            return Ok(id);
        }
        let key = (v.0, want.key());
        if let Some(&c) = self.converted.get(&key) {
            return Ok(c);
        }
        let name = self.src.value(v).name.clone();
        let invalid = |e: accel_ops::OpError| IrError::Invalid { node: name.clone(), why: e.to_string() };
        if let (Some(t), Fmt::Bf16) = (self.src.constant(v), want) {
            let t = Tensor::from_bf16(t.dims().to_vec(), round_all(t.as_f32().map_err(invalid)?)).map_err(invalid)?;
            let c = self.constant(format!("{name}.bf16"), t);
            self.converted.insert(key, c);
            return Ok(c);
        }
        let (src, op) = match (have, want) {
            // int8 with other parameters: through f32.
            (Fmt::I8 { .. }, Fmt::I8 { scale, zero }) => {
                (self.need(v, Fmt::F32)?, Op::Quant(Quant { scale, zero_point: zero, to: DType::I8 }))
            }
            (Fmt::I8 { scale, zero }, to) => {
                let to = if to == Fmt::Bf16 { DType::BF16 } else { DType::F32 };
                (id, Op::Quant(Quant { scale, zero_point: zero, to }))
            }
            (_, Fmt::I8 { scale, zero }) => (id, Op::Quant(Quant { scale, zero_point: zero, to: DType::I8 })),
            (_, Fmt::Bf16) => (id, Op::Cast(Cast { to: DType::BF16 })),
            (_, Fmt::F32) => (id, Op::Cast(Cast { to: DType::F32 })),
        };
        // A graph output converted back to f32 keeps the output's name (its producer was renamed).
        let out_name = if want == Fmt::F32 && self.outputs.contains(&v) {
            name.clone()
        } else {
            format!("{name}.{}", want.name())
        };
        let c = self.out.add_node(format!("{name}:to-{}", want.name()), op, vec![src], out_name)?;
        self.note(c, want);
        self.converted.insert(key, c);
        Ok(c)
    }

    /// Adds the rewritten form of source node `n`: `op` on `inputs` (values of `out`), producing format `fmt`.
    pub fn emit(&mut self, n: &Node, op: Op, inputs: Vec<ValueId>, fmt: Fmt) -> Result<ValueId, IrError> {
        let name = &self.src.value(n.output).name;
        let out_name = if fmt != Fmt::F32 && self.outputs.contains(&n.output) {
            format!("{name}.{}", fmt.name())
        } else {
            name.clone()
        };
        let id = self.out.add_node(n.name.clone(), op, inputs, out_name)?;
        if let Some(last) = self.out.nodes.last_mut() {
            last.placement = n.placement;
        }
        self.note(id, fmt);
        self.map[n.output.0 as usize] = Some((id, fmt));
        Ok(id)
    }

    /// Makes source value `v` stand for `id` in format `fmt` (no node): a dequantize of an int8 value is that
    /// value, read with the dequantize's scale and zero point.
    pub fn alias(&mut self, v: ValueId, id: ValueId, fmt: Fmt) {
        self.map[v.0 as usize] = Some((id, fmt));
    }

    /// Copies node `n` unchanged, reading every input in f32 (or as it is, for reshapes: an alias keeps the
    /// format and the int8 parameters of its input).
    pub fn copy_f32(&mut self, n: &Node) -> Result<ValueId, IrError> {
        if let (Op::Reshape(_), Some(&x)) = (&n.op, n.inputs.first()) {
            let (xv, fmt) = self.value(x)?;
            let mut ins = vec![xv];
            for &v in &n.inputs[1..] {
                ins.push(self.need(v, Fmt::F32)?);
            }
            // Reshape keeps its input's dtype.
            return self.emit(n, n.op.clone(), ins, fmt);
        }
        let ins = n.inputs.iter().map(|&v| self.need(v, Fmt::F32)).collect::<Result<Vec<_>, _>>()?;
        self.emit(n, n.op.clone(), ins, Fmt::F32)
    }

    /// Finishes: every graph output in f32, under its own name; the result verified.
    pub fn finish(mut self) -> Result<(Graph, Vec<Fmt>), IrError> {
        let outs = self.src.outputs.clone();
        let mut ids = Vec::new();
        for o in outs {
            ids.push(self.need(o, Fmt::F32)?);
        }
        self.out.outputs = ids;
        self.out.verify()?;
        let n = self.out.values.len();
        self.formats.resize(n, Fmt::F32);
        Ok((self.out, self.formats))
    }
}
