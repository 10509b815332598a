"""Fit callbacks the tests share (scikit-learn's ``sklearn.callback`` protocol)."""


class EpochCallback:
    """A callback that sees each epoch's end; the other hooks do nothing.

    Subclasses implement ``on_epoch_end(epoch) -> bool`` (True stops training).
    """

    def setup(self, estimator, context):
        self.epochs_seen = 0

    def on_fit_task_begin(self, estimator, context):
        pass

    def on_fit_task_end(self, estimator, context):
        if context.task_name != "epoch":
            return False
        self.epochs_seen += 1
        return bool(self.on_epoch_end(self.epochs_seen))

    def teardown(self, estimator, context):
        pass

    def on_epoch_end(self, epoch):
        return False


class StopAfter(EpochCallback):
    """Stops training after ``epochs`` epochs."""

    def __init__(self, epochs):
        self.epochs = epochs

    def on_epoch_end(self, epoch):
        return epoch >= self.epochs
