/// Where a model's encoder layers come from, one at a time, as its forward pass reaches each.
///
/// The local model and the streamed one are the same ``BertModel`` over different providers:
/// ``ResidentLayers`` holds every layer, the loading layer's `StreamedLayers` fetches each from a
/// chunk set and keeps a few.
public protocol LayerProvider: Sendable {
    /// Layer `index` (from 0), for a forward pass that has reached it.
    ///
    /// - Throws: what fetching or building the layer throws.
    func layer(_ index: Int) async throws -> BertLayer
}

/// Every layer in memory.
public struct ResidentLayers: LayerProvider {
    public let layers: [BertLayer]

    public init(_ layers: [BertLayer]) {
        self.layers = layers
    }

    public func layer(_ index: Int) async throws -> BertLayer { layers[index] }
}
