"""Models: layer shapes, parameters and FLOPs without TensorFlow, and the Keras builder."""

from pipeline.model.shapes import InfeasibleSpec
from pipeline.validation import user_error

user_error(InfeasibleSpec)  # registered here: shapes.py is training code (its hash keys runs)
