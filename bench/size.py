#!/usr/bin/env python3
"""Size of parx's source: code lines per file and lines per function.

Usage: python3 bench/size.py [--max-file N] [--max-fn N] [SRC]   (defaults 700, 120, src/)

A code line is a line that is neither blank nor only a comment (`//`, `//!`, `///`, or inside
a `/* */` block). A file's count covers the whole file, unit tests included. A function runs
from the line holding `fn NAME` to the line closing its body's brace (found by counting braces
outside strings, chars and comments); its length is that span's code lines. Prints the files
and functions over the limits, the largest of each, and exits 1 if any is over.
"""
import os
import re
import sys


def strip(text):
    """The text with comments and string/char literal contents blanked, newlines kept."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            j = n if j < 0 else j
            out.append(" " * (j - i))
            i = j
        elif text.startswith("/*", i):
            depth, j = 1, i + 2
            while j < n and depth:
                if text.startswith("/*", j):
                    depth, j = depth + 1, j + 2
                elif text.startswith("*/", j):
                    depth, j = depth - 1, j + 2
                else:
                    j += 1
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif c == "r" and re.match(r'r#*"', text[i:i + 10]) and (i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'r(#*)"', text[i:])
            end = '"' + m.group(1)
            j = text.find(end, i + len(m.group(0)))
            j = n if j < 0 else j + len(end)
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            j += 1
            out.append("".join(ch if ch == "\n" else " " for ch in text[i:j]))
            i = j
        elif c == "'":
            m = re.match(r"'(\\.[^']*|[^\\'])'", text[i:])
            if m:
                out.append(" " * len(m.group(0)))
                i += len(m.group(0))
            else:  # a lifetime
                out.append(c)
                i += 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def measure(path):
    with open(path, encoding="utf-8") as f:
        text = f.read()
    lines = strip(text).split("\n")
    code = [bool(l.strip()) for l in lines]
    fns = []
    fn_re = re.compile(r"\bfn\s+([A-Za-z_][A-Za-z0-9_]*)")
    for i, l in enumerate(lines):
        m = fn_re.search(l)
        if not m:
            continue
        # Find the body's opening brace (or a `;` first: a declaration without a body).
        depth, start, end = 0, None, None
        for j in range(i, len(lines)):
            seg = lines[j][m.start():] if j == i else lines[j]
            for ch in seg:
                if start is None:
                    if ch == ";":
                        end = j
                        break
                    if ch == "{":
                        start, depth = j, 1
                    continue
                if ch == "{":
                    depth += 1
                elif ch == "}":
                    depth -= 1
                    if depth == 0:
                        end = j
                        break
            if end is not None:
                break
        if start is None or end is None:
            continue
        fns.append((sum(code[i:end + 1]), m.group(1), i + 1))
    return sum(code), fns


def main():
    args = sys.argv[1:]
    max_file, max_fn, root = 700, 120, "src"
    while args:
        a = args.pop(0)
        if a == "--max-file":
            max_file = int(args.pop(0))
        elif a == "--max-fn":
            max_fn = int(args.pop(0))
        else:
            root = a
    files, fns = [], []
    for d, _, names in os.walk(root):
        for name in names:
            if name.endswith(".rs"):
                p = os.path.join(d, name)
                n, fs = measure(p)
                files.append((n, p))
                fns += [(k, f"{p}:{line} {f}") for k, f, line in fs]
    files.sort(reverse=True)
    fns.sort(reverse=True)
    over = [x for x in files if x[0] > max_file] + [x for x in fns if x[0] > max_fn]
    print(f"largest files (code lines): " + ", ".join(f"{p} {n}" for n, p in files[:5]))
    print(f"longest functions (code lines): " + ", ".join(f"{w} {n}" for n, w in fns[:5]))
    for n, w in over:
        print(f"OVER: {w} {n}")
    print(f"{len(files)} files, {len(fns)} functions, {len(over)} over the limits "
          f"({max_file} code lines a file, {max_fn} a function)")
    sys.exit(1 if over else 0)


if __name__ == "__main__":
    main()
