"""The customer context (고객): the people the bank knows and whether the bank serves them."""
