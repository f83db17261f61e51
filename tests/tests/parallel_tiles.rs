//! With several threads the simulator runs the tiles' commands in parallel batches, parking stores and
//! writing them afterwards (`runtime/src/sim/functional.rs`); stores do not end a batch when their DRAM hulls
//! overlap (tiles storing interleaved column or channel blocks of one tensor), and overlapping parked stores
//! are written in submission order. The outputs must be bit for bit those of one command at a time, on
//! schedules that store interleaved blocks (chains cut into columns, channel-split layers), in f32 and int8.
use accel_compiler::driver::Compiled;
use accel_modelgen::zoo;
use accel_ops::target::Target;
use accel_ops::Tensor;
use accel_runtime::Session;
use accel_tests::harness::{compile, compile_int8, random_tensor};

fn outputs(c: &Compiled, input: &Tensor, parallel: bool) -> Vec<(String, Tensor)> {
    let mut s = Session::load(&c.blob).expect("loads");
    s.set_parallel_tiles(parallel);
    let name = s.meta().inputs[0].name.clone();
    s.run(&[(name, input.clone())]).expect("runs").outputs
}

fn check(name: &str, c: &Compiled, dims: &[usize]) {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("pool");
    let input = random_tensor(dims, 5);
    let (serial, parallel) = pool.install(|| (outputs(c, &input, false), outputs(c, &input, true)));
    for ((n, a), (_, b)) in serial.iter().zip(&parallel) {
        let (a, b) = (a.as_f32().expect("f32 outputs"), b.as_f32().expect("f32 outputs"));
        let first = a.iter().zip(b).position(|(x, y)| x.to_bits() != y.to_bits());
        assert!(first.is_none(), "{name}: output {n} differs at element {first:?} with parallel tiles");
    }
    assert_eq!(serial.len(), parallel.len());
}

#[test]
fn parallel_tile_batches_equal_one_command_at_a_time() {
    let yolo = accel_modelgen::to_bytes(&zoo::yolov3(160, 160, 3).expect("model"));
    check("yolov3@160 f32", &compile(&yolo, &Target::x1(), &[]), &[1, 3, 160, 160]);
    let resnet = accel_modelgen::to_bytes(&zoo::resnet50(96, 96, 4).expect("model"));
    check("resnet50@96 f32", &compile(&resnet, &Target::x1(), &[]), &[1, 3, 96, 96]);
    let mobilenet = accel_modelgen::to_bytes(&zoo::mobilenetv2(96, 96, 6).expect("model"));
    check("mobilenetv2@96 int8", &compile_int8(&mobilenet, &[1, 3, 96, 96], 2, 9), &[1, 3, 96, 96]);
}
