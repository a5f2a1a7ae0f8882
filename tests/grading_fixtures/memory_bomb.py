"""MaxGate.forward allocates until memory runs out."""


from gates.base import Gate, unbroadcast


class AddGate(Gate):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x + y

    def backward(self, upstream):
        return unbroadcast(upstream, self.x), unbroadcast(upstream, self.y)


class MultiplyGate(Gate):
    def forward(self, x, y):
        self.x, self.y = x, y
        return x * y

    def backward(self, upstream):
        dx = unbroadcast(upstream * self.y, self.x)
        return dx, unbroadcast(upstream * self.x, self.y)


class MaxGate(Gate):
    def forward(self, x, y):
        hoard = b"x" * 1024
        while True:
            hoard = hoard + hoard

    def backward(self, upstream):
        return upstream, upstream
