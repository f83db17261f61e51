//! RNN, GRU and LSTM: each used output (Y, Y_h, Y_c) becomes a host node `Recurrent` computing the sequence
//! (`accel_ops::op::recurrent`). Only the default activations are supported; other activation lists,
//! activation parameters and LSTM's `input_forget` are refused, naming the node.
use super::Builder;
use crate::import::attrs::OnnxNode;
use crate::import::error::ImportError;
use accel_ops::op::recurrent::{Cell, Direction, Recurrent, RecurrentOutput};
use accel_ops::op::{HostOnly, Op};

type Res = Result<(), ImportError>;

/// The default activations of `cell`, per direction.
fn default_activations(cell: Cell) -> &'static [&'static str] {
    match cell {
        Cell::Rnn => &["tanh"],
        Cell::Gru => &["sigmoid", "tanh"],
        Cell::Lstm => &["sigmoid", "tanh", "tanh"],
    }
}

pub(super) fn recurrent(b: &mut Builder<'_>, n: &OnnxNode<'_>) -> Res {
    let cell = match n.op_type() {
        "RNN" => Cell::Rnn,
        "GRU" => Cell::Gru,
        _ => Cell::Lstm,
    };
    let optional = if cell == Cell::Lstm { 5 } else { 3 };
    b.arity(n, 3, 3 + optional)?;
    let direction = match n.string_or("direction", "forward")? {
        "forward" => Direction::Forward,
        "reverse" => Direction::Reverse,
        "bidirectional" => Direction::Bidirectional,
        other => return Err(n.err(format!("direction `{other}` is unsupported"))),
    };
    let dirs = if direction == Direction::Bidirectional { 2 } else { 1 };
    if let Some(a) = n.proto.attribute.iter().find(|a| a.name == "activations") {
        let given: Vec<String> = a.strings.iter().map(|s| String::from_utf8_lossy(s).to_lowercase()).collect();
        let defaults = default_activations(cell);
        if given.len() != defaults.len() * dirs || given.iter().zip(defaults.iter().cycle()).any(|(g, d)| g != d) {
            return Err(n.err(format!("activations {given:?} are unsupported (only the defaults {defaults:?})")));
        }
    }
    for name in ["activation_alpha", "activation_beta"] {
        if n.has_attr(name) {
            return Err(n.err(format!("attribute `{name}` is unsupported")));
        }
    }
    if n.int_or("input_forget", 0)? != 0 {
        return Err(n.err("input_forget = 1 is unsupported"));
    }
    let r = b.input(n, 2)?;
    let from_r = b.dims(r).get(2).copied().unwrap_or(0);
    let hidden = match n.int("hidden_size")? {
        Some(h) => n.to_positive(h, "hidden_size")?,
        None => from_r,
    };
    let clip = n.float("clip")?;
    if clip.is_some_and(|c| !(c.is_finite() && c > 0.0)) {
        return Err(n.err(format!("clip {clip:?} must be a positive finite number")));
    }
    let mut operands = vec![b.input(n, 0)?, b.input(n, 1)?, r];
    let mut present = [false; 5];
    for (k, p) in present.iter_mut().enumerate().take(optional) {
        if let Some(v) = b.opt_input(n, 3 + k)? {
            *p = true;
            operands.push(v);
        }
    }
    let outputs = [RecurrentOutput::Y, RecurrentOutput::YH, RecurrentOutput::YC];
    for (slot, output) in outputs.into_iter().enumerate().take(if cell == Cell::Lstm { 3 } else { 2 }) {
        let Some(name) = n.proto.output.get(slot).filter(|s| !s.is_empty()) else { continue };
        let op = Recurrent {
            cell,
            direction,
            hidden,
            batch_major: n.int_or("layout", 0)? == 1,
            linear_before_reset: n.int_or("linear_before_reset", 0)? != 0,
            clip,
            present,
            output,
        };
        let name = name.clone();
        let v = b.emit(n, Op::HostOnly(HostOnly::Recurrent(op)), &operands, &name)?;
        b.define(n, slot, v)?;
    }
    Ok(())
}
