//! The full-size architectures at 64x64 load in tract, optimise, and run to finite outputs
//! of the expected shapes in reasonable time; names follow PyTorch's export.

mod common;

use accel_modelgen::zoo;
use common::{check_output, names, run_in_tract};
use std::time::{Duration, Instant};

fn timed<T>(what: &str, limit: Duration, f: impl FnOnce() -> T) -> T {
    let t = Instant::now();
    let r = f();
    let dt = t.elapsed();
    eprintln!("{what}: {dt:?}");
    assert!(dt < limit, "{what} took {dt:?}");
    r
}

#[test]
fn resnet50_runs_in_tract() {
    let model = timed("resnet50 generation", Duration::from_secs(10), || zoo::resnet50(64, 64, 1).expect("resnet50"));
    let (nodes, ops, inits, vals) = names(&model);
    assert_eq!(ops.iter().filter(|o| *o == "Conv").count(), 53);
    assert_eq!(ops.iter().filter(|o| *o == "BatchNormalization").count(), 53);
    assert!(nodes.contains(&"/layer1/layer1.0/conv1/Conv".to_string()));
    assert!(nodes.contains(&"/layer4/layer4.0/downsample/downsample.0/Conv".to_string()));
    assert!(vals.contains(&"/layer1/layer1.0/conv1/Conv_output_0".to_string()));
    assert!(inits.contains(&"layer1.0.conv1.weight".to_string()));
    assert!(inits.contains(&"layer3.5.bn3.running_var".to_string()));
    assert!(inits.contains(&"fc.bias".to_string()));
    let params: i64 =
        model.graph.as_ref().map_or(0, |g| g.initializer.iter().map(|t| t.dims.iter().product::<i64>()).sum());
    // torchvision: 25,557,032 parameters + 53 x 2 running stats vectors.
    assert_eq!(params, 25_557_032 + 2 * 26_560);
    let out = timed("resnet50 tract", Duration::from_secs(60), || run_in_tract(&model, &[1, 3, 64, 64], false));
    check_output(&out[0], &[1, 1000]);
}

#[test]
fn mobilenetv2_runs_in_tract() {
    let model = zoo::mobilenetv2(64, 64, 2).expect("mobilenetv2");
    let (nodes, ops, inits, _) = names(&model);
    assert_eq!(ops.iter().filter(|o| *o == "Conv").count(), 52);
    assert_eq!(ops.iter().filter(|o| *o == "Clip").count(), 35);
    assert_eq!(ops.iter().filter(|o| *o == "Add").count(), 10);
    assert!(nodes.contains(&"/features/features.1/conv/conv.0/conv.0.0/Conv".to_string()));
    assert!(inits.contains(&"features.18.1.running_mean".to_string()));
    assert!(inits.contains(&"classifier.1.weight".to_string()));
    let out = timed("mobilenetv2 tract", Duration::from_secs(30), || run_in_tract(&model, &[1, 3, 64, 64], false));
    check_output(&out[0], &[1, 1000]);
}

#[test]
fn yolov3_runs_in_tract() {
    let model = timed("yolov3 generation", Duration::from_secs(15), || zoo::yolov3(64, 64, 3).expect("yolov3"));
    let (_, ops, inits, _) = names(&model);
    assert_eq!(ops.iter().filter(|o| *o == "Conv").count(), 75);
    assert_eq!(ops.iter().filter(|o| *o == "Resize").count(), 2);
    assert_eq!(ops.iter().filter(|o| *o == "LeakyRelu").count(), 72);
    assert!(inits.contains(&"module_list.0.conv_0.weight".to_string()));
    assert!(inits.contains(&"module_list.105.conv_105.bias".to_string()));
    let g = model.graph.as_ref().expect("graph");
    assert_eq!(g.input[0].name, "images");
    let outs: Vec<&str> = g.output.iter().map(|o| o.name.as_str()).collect();
    assert_eq!(outs, ["output0", "output1", "output2"]);
    let out = timed("yolov3 tract", Duration::from_secs(90), || run_in_tract(&model, &[1, 3, 64, 64], false));
    check_output(&out[0], &[1, 255, 2, 2]);
    check_output(&out[1], &[1, 255, 4, 4]);
    check_output(&out[2], &[1, 255, 8, 8]);
}

#[test]
fn yolov3_rejects_bad_sizes() {
    assert!(zoo::yolov3(100, 64, 0).is_err());
    assert!(zoo::yolov3(0, 64, 0).is_err());
    assert!(zoo::yolov3(64, 16, 0).is_err());
}
