def text_labels(indices):
    """The Fashion-MNIST class names of a sequence of class indices 0 to 9."""
    names = ["t-shirt", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]
    return [names[int(i)] for i in indices]
