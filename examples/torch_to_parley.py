"""A PyTorch model -> ONNX -> a secure inference -> compared with torch.
Run: PYTHONPATH=PREFIX/lib/python3/dist-packages python3 examples/torch_to_parley.py"""
import io

import numpy as np
import torch

import parley

torch.manual_seed(0)
net = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3), torch.nn.ReLU(), torch.nn.Flatten(),
                          torch.nn.Linear(4 * 6 * 6, 10)).eval()
x = torch.rand(1, 1, 8, 8)
onnx = io.BytesIO()
torch.onnx.export(net, x, onnx, input_names=["x"], output_names=["y"])

y, report = parley.run(onnx.getvalue(), x.numpy(), mode="he", report=True)  # both parties here
want = net(x).detach().numpy()
print("secure:", np.round(y, 3), "\ntorch: ", np.round(want, 3))
print("max difference %.4f; %.2f s, %d bytes" % (abs(y - want).max(), report["client"]["seconds"],
                                                 report["client"]["bytes_sent"] + report["client"]["bytes_recv"]))
assert abs(y - want).max() < 0.01 and y.argmax() == want.argmax()
