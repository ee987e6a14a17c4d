"""The money path: alerts → signals → decisions → sized orders → fills → slot positions and row statuses."""
