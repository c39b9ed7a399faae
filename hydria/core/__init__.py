"""The core: constants, the error tree and the frozen object graph everyone shares."""
