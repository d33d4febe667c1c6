"""Training: tf.data inputs, the one training function, peak memory."""
