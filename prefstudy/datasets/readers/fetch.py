"""`prefstudy data fetch fashion-mnist`: the official files, sha256-checked, local copies first.

A file passes when the sha256 of the downloaded ``.gz`` is the official one, or when the
sha256 of its decompressed IDX payload is (mirrors and distributions such as Debian
recompress the files, which changes the archive but not the data). Each file is downloaded
to a temporary name and renamed only once it passed, so a failed fetch leaves nothing behind.
"""

from __future__ import annotations

import gzip
import hashlib
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from prefstudy.datasets.readers import fashion_mnist
from prefstudy.errors import PrefstudyError
from prefstudy.files import atomic_path
from prefstudy.progress import Reporter, SilentReporter

OFFICIAL_URL = "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"
# The official archives (as published with torchvision's dataset definitions) ...
ARCHIVE_SHA256 = {
    "train-images-idx3-ubyte.gz": "3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
    "train-labels-idx1-ubyte.gz": "a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
    "t10k-images-idx3-ubyte.gz": "346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
    "t10k-labels-idx1-ubyte.gz": "67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
}
# ... and their decompressed IDX payloads.
PAYLOAD_SHA256 = {
    "train-images-idx3-ubyte.gz": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte.gz": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte.gz": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte.gz": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}


@dataclass(frozen=True)
class FetchResult:
    folder: Path
    downloaded: list[str]
    found_locally: bool


def default_destination() -> Path:
    return Path("~/.cache/prefstudy/fashion-mnist").expanduser()


def verify(name: str, path: Path) -> bool:
    """Whether ``path`` holds the official content of file ``name``."""
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() == ARCHIVE_SHA256[name]:
        return True
    try:
        return hashlib.sha256(gzip.decompress(data)).hexdigest() == PAYLOAD_SHA256[name]
    except (OSError, EOFError):
        return False


def fetch_fashion_mnist(
    dest: Path | None = None, base_url: str | None = None, force: bool = False, report: Reporter | None = None
) -> FetchResult:
    """Make the four official files available; download (from ``base_url``, or the official site) what is missing."""
    report = report or SilentReporter()
    base_url = base_url or OFFICIAL_URL
    dest = Path(dest).expanduser() if dest else default_destination()
    if not force:
        try:
            folder = fashion_mnist.locate(None if dest == default_destination() else dest)
            return FetchResult(folder=folder, downloaded=[], found_locally=True)
        except PrefstudyError:
            pass
    dest.mkdir(parents=True, exist_ok=True)
    downloaded = []
    report.start(len(ARCHIVE_SHA256), "downloading Fashion-MNIST")
    for name in ARCHIVE_SHA256:
        target = dest / name
        if target.is_file() and verify(name, target) and not force:
            report.advance()
            continue
        url = base_url.rstrip("/") + "/" + name
        try:
            with atomic_path(target) as tmp:
                with urllib.request.urlopen(url, timeout=60) as response, open(tmp, "wb") as out:
                    while chunk := response.read(1 << 20):
                        out.write(chunk)
                if not verify(name, tmp):
                    raise PrefstudyError(f"{url} failed its sha256 check (not the official file); nothing was kept")
        except (urllib.error.URLError, OSError) as error:
            raise PrefstudyError(f"could not download {url} ({error}); check the network or pass --path") from None
        downloaded.append(name)
        report.advance()
    return FetchResult(folder=dest, downloaded=downloaded, found_locally=False)
