//! Command queues: one per (tile, unit); each unit consumes its queue in order. Encoding of the command section.
use super::field::{DecodeError, Field, Reader};
use super::Command;

/// The units of a tile, plus the host. Each has its own queue and runs concurrently with the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub enum Unit {
    DmaIn,
    Mac,
    Vector,
    DmaOut,
    Host,
}

impl Unit {
    pub const ALL: [Unit; 5] = [Unit::DmaIn, Unit::Mac, Unit::Vector, Unit::DmaOut, Unit::Host];
    pub fn code(self) -> u8 {
        match self {
            Unit::DmaIn => 0,
            Unit::Mac => 1,
            Unit::Vector => 2,
            Unit::DmaOut => 3,
            Unit::Host => 4,
        }
    }
    pub fn from_code(c: u8) -> Option<Unit> {
        Unit::ALL.into_iter().find(|u| u.code() == c)
    }
    pub fn name(self) -> &'static str {
        match self {
            Unit::DmaIn => "dma-in",
            Unit::Mac => "mac",
            Unit::Vector => "vector",
            Unit::DmaOut => "dma-out",
            Unit::Host => "host",
        }
    }
}

/// Which queue: a tile's unit, or the host (tile 0 by convention).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct QueueId {
    pub tile: u16,
    pub unit: Unit,
}

impl std::fmt::Display for QueueId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.unit == Unit::Host {
            f.write_str("host")
        } else {
            write!(f, "tile{}.{}", self.tile, self.unit.name())
        }
    }
}

/// The commands of one unit, in execution order.
#[derive(Debug, Clone, PartialEq)]
pub struct Queue {
    pub id: QueueId,
    pub commands: Vec<Command>,
}

/// Section layout: `u32` queue count, then per queue `u16` tile, `u8` unit, `u32` command count, commands.
pub fn encode_queues(queues: &[Queue]) -> Vec<u8> {
    let mut out = Vec::new();
    (queues.len() as u32).put(&mut out);
    for q in queues {
        q.id.tile.put(&mut out);
        out.push(q.id.unit.code());
        (q.commands.len() as u32).put(&mut out);
        for c in &q.commands {
            c.encode(&mut out);
        }
    }
    out
}

/// Decodes the command section. Counts are never trusted for preallocation beyond the bytes left.
pub fn decode_queues(bytes: &[u8]) -> Result<Vec<Queue>, DecodeError> {
    let mut r = Reader::new(bytes);
    let nq = u32::get(&mut r)?;
    // Each queue header is 7 bytes: a count larger than that allows is a lie.
    let mut queues = Vec::with_capacity((nq as usize).min(r.remaining() / 7));
    for _ in 0..nq {
        let tile = u16::get(&mut r)?;
        let unit_code = u8::get(&mut r)?;
        let unit = Unit::from_code(unit_code).ok_or_else(|| r.invalid("unit", unit_code as u64, 1))?;
        let n = u32::get(&mut r)?;
        // The smallest command (sync.signal) is 3 bytes.
        let mut commands = Vec::with_capacity((n as usize).min(r.remaining() / 3));
        for _ in 0..n {
            commands.push(Command::decode(&mut r)?);
        }
        queues.push(Queue { id: QueueId { tile, unit }, commands });
    }
    if r.remaining() != 0 {
        return Err(DecodeError::InvalidValue {
            offset: r.offset(),
            what: "trailing bytes",
            value: r.remaining() as u64,
        });
    }
    Ok(queues)
}
