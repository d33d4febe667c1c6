"""Models: layer shapes, parameters and FLOPs without TensorFlow, and the Keras builder."""
