"""Executes a notebook headless with nbclient, as `jupyter nbconvert --execute
--allow-errors` does, and always writes what was executed.

    python3 execute.py IN.ipynb OUT.ipynb KERNEL TIMEOUT_SECONDS

Exit status: 0 when every cell ran (cells may still hold errors: the caller
inspects OUT), 3 when a cell ran past TIMEOUT_SECONDS: that cell then holds a
CellTimeoutError output naming it, later cells are not run, and OUT is written
all the same. Any other failure (no kernel, a dead kernel) exits 1 with the
message on stderr, OUT written with the cells run so far.
"""
import os
import sys

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellTimeoutError


def main():
    src, dst, kernel, timeout = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    nb = nbformat.read(src, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel, allow_errors=True,
                            resources={"metadata": {"path": os.path.dirname(os.path.abspath(src))}})
    current = {"index": None}
    execute_cell = client.async_execute_cell

    async def tracked(cell, cell_index, *args, **kwargs):
        current["index"] = cell_index
        return await execute_cell(cell, cell_index, *args, **kwargs)

    client.async_execute_cell = tracked
    status = 0
    try:
        client.execute()
    except CellTimeoutError:
        i = current["index"]
        msg = "cell %d did not finish within %d s (--cell-timeout); later cells were not run" % (i + 1, timeout)
        nb.cells[i].setdefault("outputs", []).append(nbformat.v4.new_output(
            "error", ename="CellTimeoutError", evalue=msg, traceback=["CellTimeoutError: " + msg]))
        print("execute: " + msg, file=sys.stderr)
        status = 3
    except Exception as e:  # a dead kernel, no such kernel, ...
        print("execute: %s: %s" % (type(e).__name__, e), file=sys.stderr)
        status = 1
    finally:
        nbformat.write(nb, dst)
    return status


if __name__ == "__main__":
    sys.exit(main())
