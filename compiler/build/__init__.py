"""Building: a chapter to notebooks (and modules), atomic writes, the compile cache, the book, execution and the web book."""
