"""Times a notebook's first cells as a user meets them: a new kernel, the Set-up
cell, then the first code cell after it (GoNB compiles and links the whole
program for each). docker/test.sh runs it in a fresh container, once with the
image's warm Go build cache and once with an empty one ($GOCACHE).

    python3 firstcell.py NOTEBOOK.ipynb...

Prints a line per notebook: "NAME: kernel start S s, set-up cell S s, first
cell S s". Exits 1 if a cell fails (an error output, or a panic on stderr).
$VGGNB_KERNEL names the kernel (default vggnb).
"""
import os
import sys
import time

import nbformat
from nbclient import NotebookClient


def first_cells(path, kernel):
    """Returns the kernel's start time and the first two code cells' times, in seconds."""
    nb = nbformat.read(path, as_version=4)
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    if len(code) < 2:
        raise RuntimeError("%s has fewer than two code cells" % path)
    client = NotebookClient(nb, timeout=600, kernel_name=kernel, allow_errors=True)
    t0 = time.monotonic()
    times = []
    with client.setup_kernel():
        times.append(time.monotonic() - t0)
        for i in code[:2]:
            t = time.monotonic()
            client.execute_cell(nb.cells[i], i)
            times.append(time.monotonic() - t)
            for out in nb.cells[i].get("outputs", []):
                if out.get("output_type") == "error" or (
                        out.get("name") == "stderr" and "panic" in out.get("text", "")):
                    raise RuntimeError("%s: cell %d failed: %s" % (path, i + 1, out))
    return times


def main():
    kernel = os.environ.get("VGGNB_KERNEL", "vggnb")
    for path in sys.argv[1:]:
        try:
            times = first_cells(path, kernel)
        except RuntimeError as e:
            print("firstcell: %s" % e, file=sys.stderr)
            return 1
        print("%s: kernel start %.1f s, set-up cell %.1f s, first cell %.1f s"
              % ((os.path.basename(path),) + tuple(times)))
        sys.stdout.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
