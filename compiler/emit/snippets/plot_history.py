def plot_history(history):
    """One curve per logged quantity (train loss, validation loss, accuracy) against the epoch."""
    for name, values in history.items():
        if values:
            plt.plot(range(1, len(values) + 1), values, label=name)
    plt.xlabel("epoch")
    plt.legend()
    plt.show()
