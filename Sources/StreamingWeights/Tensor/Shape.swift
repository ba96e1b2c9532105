/// The dimensions of a tensor, outermost first (row-major).
public struct Shape: Sendable, Hashable, CustomStringConvertible, ExpressibleByArrayLiteral {
    /// The size of each dimension; empty for a scalar.
    public let dimensions: [Int]

    /// The number of elements: the product of the dimensions (1 for a scalar).
    public let elementCount: Int

    /// Creates a shape, or throws when a dimension is negative or the element count overflows `Int`.
    public init(validating dimensions: [Int]) throws(TensorError) {
        var count = 1
        for dimension in dimensions {
            guard dimension >= 0 else { throw .negativeDimension(dimensions) }
            let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
            guard !overflow else { throw .elementCountOverflow(dimensions) }
            count = product
        }
        self.dimensions = dimensions
        self.elementCount = count
    }

    /// Creates a shape from dimensions the caller knows to be valid.
    ///
    /// - Precondition: every dimension is non-negative and their product fits in `Int`.
    public init(_ dimensions: [Int]) {
        do {
            try self.init(validating: dimensions)
        } catch {
            preconditionFailure("invalid shape \(dimensions): \(error)")
        }
    }

    public init(arrayLiteral elements: Int...) {
        self.init(elements)
    }

    /// The number of dimensions.
    public var rank: Int { dimensions.count }

    public subscript(index: Int) -> Int { dimensions[index] }

    /// `[2, 3]`, as Python prints a shape list.
    public var description: String { "[" + dimensions.map(String.init).joined(separator: ", ") + "]" }
}
