import torch

torch.set_num_threads(1)  # tiny models: extra threads only add contention on shared CPUs
