use super::*;

#[test]
fn examples_cover_every_opcode_once() {
    let codes: Vec<u8> = examples().iter().map(|c| c.opcode()).collect();
    let table: Vec<u8> = OPCODES.iter().map(|(c, _)| *c).collect();
    assert_eq!(codes, table);
}

#[test]
fn every_command_round_trips() {
    for cmd in examples() {
        let mut bytes = Vec::new();
        cmd.encode(&mut bytes);
        let mut r = Reader::new(&bytes);
        assert_eq!(Command::decode(&mut r).unwrap(), cmd);
        assert_eq!(r.remaining(), 0, "{}", cmd.mnemonic());
    }
}

#[test]
fn every_truncation_is_an_error() {
    for cmd in examples() {
        let mut bytes = Vec::new();
        cmd.encode(&mut bytes);
        for cut in 0..bytes.len() {
            let err = Command::decode(&mut Reader::new(&bytes[..cut])).unwrap_err();
            assert!(matches!(err, DecodeError::Truncated { .. }), "{} cut at {cut}: {err}", cmd.mnemonic());
        }
    }
}

#[test]
fn unknown_opcode_names_its_offset() {
    let err = Command::decode(&mut Reader::new(&[0xEE])).unwrap_err();
    assert_eq!(err, DecodeError::UnknownOpcode { offset: 0, opcode: 0xEE });
}

#[test]
fn queues_round_trip_and_reject_trailing_bytes() {
    let queues = vec![
        Queue { id: QueueId { tile: 0, unit: Unit::Mac }, commands: examples() },
        Queue { id: QueueId { tile: 0, unit: Unit::Host }, commands: vec![] },
    ];
    let mut bytes = encode_queues(&queues);
    assert_eq!(decode_queues(&bytes).unwrap(), queues);
    bytes.push(0);
    assert!(decode_queues(&bytes).is_err());
    // A huge declared count with no bytes behind it fails without allocating.
    assert!(decode_queues(&[0xff, 0xff, 0xff, 0xff]).is_err());
}

#[test]
fn footprints_catch_inconsistent_parameters() {
    for cmd in examples() {
        cmd.footprint().unwrap_or_else(|e| panic!("{e}"));
    }
    let bad = Command::Binary {
        op: BinCode(crate::op::BinaryOp::Add),
        a: SramAddr(0),
        b: SramAddr(0),
        dst: SramAddr(0),
        len: 4,
        b_period: 0,
        b_repeat: 1,
    };
    assert!(bad.footprint().is_err());
    let huge = Command::Unary {
        func: Act(Some(crate::op::UnaryOp::Relu)),
        src: SramAddr(u32::MAX - 1),
        dst: SramAddr(0),
        len: u32::MAX,
    };
    let fp = huge.footprint().unwrap();
    assert!(fp[0].end() > u32::MAX as u64, "footprints are computed in u64 without wrapping");
}
