use super::*;
use crate::command::{examples, Queue, QueueId, Unit};
use crate::op::{Op, Unary, UnaryOp};
use crate::program::{DramTensor, HostBody, IoDesc};
use crate::target::Target;
use crate::tensor::TensorType;

fn sample() -> Program {
    let ty = TensorType::f32(vec![1, 4]);
    let relu = Op::Unary(Unary { op: UnaryOp::Relu });
    Program {
        meta: Meta {
            target: Target::x1(),
            compiler_version: "test".into(),
            target_name: "x1".into(),
            options: "--precision fp32".into(),
            inputs: vec![IoDesc { name: "in".into(), ty: ty.clone(), dram: 64 }],
            outputs: vec![IoDesc { name: "out".into(), ty: ty.clone(), dram: 128 }],
            dram_bytes: 256,
            semaphores: 4,
            stages: Vec::new(),
        },
        queues: vec![Queue { id: QueueId { tile: 0, unit: Unit::Mac }, commands: examples() }],
        constants: (0..64).collect(),
        kernels: vec![
            HostKernel {
                body: HostBody::Kernel(crate::kernel::from_op(&relu, std::slice::from_ref(&ty), &ty).unwrap()),
                inputs: vec![DramTensor { dram: 64, ty: ty.clone() }],
                output: DramTensor { dram: 128, ty: ty.clone() },
            },
            HostKernel::fallback(relu, vec![DramTensor { dram: 64, ty: ty.clone() }], DramTensor { dram: 128, ty }),
        ],
        debug: DebugInfo {
            layers: vec!["/conv/Conv".into()],
            command_layer: vec![vec![0; examples().len()]],
            dram_buffers: vec![],
            layer_macs: vec![12_345],
        },
    }
}

/// A 5.1 blob (its debug map without `layer_macs`) still loads, with no layer MACs; everything else as written.
#[test]
fn format_5_1_blobs_load_without_layer_macs() {
    let p = sample();
    let meta = super::codec::encode(&p.meta).unwrap();
    let old = crate::program::DebugInfoV51 {
        layers: p.debug.layers.clone(),
        command_layer: p.debug.command_layer.clone(),
        dram_buffers: p.debug.dram_buffers.clone(),
    };
    let bytes = super::encode_with_meta(&p, meta, super::codec::encode(&old).unwrap(), 1).unwrap();
    let back = decode(&bytes, &BlobLimits::default()).unwrap();
    assert!(back.debug.layer_macs.is_empty());
    assert_eq!(DebugInfo { layer_macs: p.debug.layer_macs.clone(), ..back.debug.clone() }, p.debug);
    assert_eq!((back.meta, back.queues, back.constants, back.kernels), (p.meta, p.queues, p.constants, p.kernels));
    // The same bytes labelled 5.2 are refused: the debug map ends too early.
    let meta = super::codec::encode(&sample().meta).unwrap();
    let mislabelled = super::encode_with_meta(&sample(), meta, super::codec::encode(&old).unwrap(), 2).unwrap();
    assert!(decode(&mislabelled, &BlobLimits::default()).is_err());
}

#[test]
fn round_trip_is_exact_and_deterministic() {
    let p = sample();
    let a = encode(&p).unwrap();
    assert_eq!(a, encode(&p).unwrap());
    assert_eq!(decode(&a, &BlobLimits::default()).unwrap(), p);
}

#[test]
fn constants_are_64_byte_aligned() {
    let a = encode(&sample()).unwrap();
    let (_, sections) = parse_layout(&a, &BlobLimits::default()).unwrap();
    assert!(sections.iter().all(|(_, start, _)| start % 64 == 0));
}

#[test]
fn every_single_byte_flip_is_detected() {
    let a = encode(&sample()).unwrap();
    for i in 0..a.len() {
        let mut b = a.clone();
        b[i] ^= 0x5a;
        assert!(decode(&b, &BlobLimits::default()).is_err(), "flip at byte {i} went unnoticed");
    }
}

#[test]
fn every_truncation_is_rejected() {
    let a = encode(&sample()).unwrap();
    for cut in 0..a.len() {
        assert!(decode(&a[..cut], &BlobLimits::default()).is_err());
    }
}

#[test]
fn typed_errors_for_magic_version_and_features() {
    let a = encode(&sample()).unwrap();
    let mut b = a.clone();
    b[0] = b'X';
    assert_eq!(decode(&b, &BlobLimits::default()), Err(BlobError::BadMagic));
    let mut b = a.clone();
    b[8] = 9;
    assert!(matches!(decode(&b, &BlobLimits::default()), Err(BlobError::Version { major: 9, .. })));
    assert!(matches!(decode(&a, &BlobLimits { max_blob_bytes: 10 }), Err(BlobError::TooLarge { .. })));
}

#[test]
fn pipeline_stages_round_trip() {
    let mut p = sample();
    p.meta.stages = vec![
        crate::pipeline::Stage { first_tile: 0, tiles: 2, first_layer: 0, layers: 1 },
        crate::pipeline::Stage { first_tile: 2, tiles: 2, first_layer: 1, layers: 3 },
    ];
    assert_eq!(decode(&encode(&p).unwrap(), &BlobLimits::default()).unwrap(), p);
}
