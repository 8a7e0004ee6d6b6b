"""Data-parallel training across processes started by ``torchrun`` (DDP: gloo on CPU, NCCL on CUDA).

Every process loads the same data and draws the same split and batch order from the seed; each
trains on its share of every batch and DDP averages the gradients, so the model is the one a
single process would train. Only the main process (rank 0) writes the run, its files and the
database.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

from prefstudy.env import WORLD_SIZE_ENV


@dataclass(frozen=True)
class World:
    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1

    def shard(self, batch: torch.Tensor) -> torch.Tensor:
        """This process's share of a batch."""
        return batch[self.rank :: self.size] if self.distributed else batch

    def sum(self, values: list[float]) -> list[float]:
        """Element-wise sum over all processes."""
        if not self.distributed:
            return values
        t = torch.tensor(values, dtype=torch.float64)
        dist.all_reduce(t)
        return t.tolist()

    def broadcast(self, value: Any) -> Any:
        """The main process's ``value``, on every process."""
        if not self.distributed:
            return value
        box = [value]
        dist.broadcast_object_list(box, src=0)
        return box[0]

    def close(self) -> None:
        """Leave the process group (at the end of a torchrun command)."""
        if self.distributed and dist.is_initialized():
            # Every process reaches the end before any tears its connections down: a gloo pair closed
            # while the peer still uses it can abort the process.
            dist.barrier()
            dist.destroy_process_group()

    def device(self, device: torch.device) -> torch.device:
        """One GPU per process under torchrun; the CPU is shared."""
        if self.distributed and device.type == "cuda" and device.index is None:
            return torch.device("cuda", self.local_rank)
        return device


def current_world() -> World:
    """The torchrun world this process belongs to (joining its process group), or a world of one."""
    size = int(os.environ.get(WORLD_SIZE_ENV, "1"))
    if size <= 1:
        return World()
    world = World(int(os.environ["RANK"]), size, int(os.environ.get("LOCAL_RANK", "0")))
    if not dist.is_initialized():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        if backend == "nccl":
            torch.cuda.set_device(world.local_rank)
        dist.init_process_group(backend=backend)
    return world
