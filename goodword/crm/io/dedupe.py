"""Finding keys that appear more than once in a file, in memory that does not grow with it.

A set of every key of a million-row file would hold the whole key column. Instead each key
sets two bits in a fixed 16 MiB bitmap; a key whose bits are already set *may* be a
duplicate and is remembered (rarely: about 2 in 10,000 keys of a million-row file by chance).
A second pass over the file, only when there are such candidates, counts them exactly.
"""

from __future__ import annotations

from collections.abc import Iterable

_BITS = 1 << 27
_MASK = _BITS - 1


class DuplicateFinder:
    def __init__(self) -> None:
        self._bitmap = bytearray(_BITS // 8)
        self.candidates: set[str] = set()

    def add(self, key: str) -> None:
        h = hash(key)
        first, second = h & _MASK, (h >> 27) & _MASK
        bitmap = self._bitmap
        seen = bitmap[first >> 3] >> (first & 7) & 1 and bitmap[second >> 3] >> (second & 7) & 1
        if seen:
            self.candidates.add(key)
            return
        bitmap[first >> 3] |= 1 << (first & 7)
        bitmap[second >> 3] |= 1 << (second & 7)

    @staticmethod
    def repeats(
        keyed_lines: Iterable[tuple[int, str]], candidates: set[str]
    ) -> list[tuple[int, str]]:
        """The (line, key) of every occurrence after the first of a candidate key."""
        seen: set[str] = set()
        repeated: list[tuple[int, str]] = []
        for line, key in keyed_lines:
            if key not in candidates:
                continue
            if key in seen:
                repeated.append((line, key))
            seen.add(key)
        return repeated
