"""Add and Multiply are right; the MaxGate file imports a missing package."""


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
