def read_fra_eng(root=None):
    """The English-French sentence pairs of the Tatoeba project from the data hub: one pair a line, the English
    sentence, a tab, its French translation."""
    with zipfile.ZipFile(download("fra-eng.zip", root)) as archive:
        return archive.read("fra-eng/fra.txt").decode("utf-8")
