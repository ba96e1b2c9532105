import StreamingWeights
import Testing

@Suite("S3 XML")
struct S3XMLTests {
    @Test("Listings, errors and upload ids read as paths and texts, with entities, CDATA and attributes")
    func documents() throws {
        let listing = S3XML(
            Array(
                """
                <?xml version="1.0" encoding="UTF-8"?>
                <!-- a comment -->
                <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
                  <IsTruncated>false</IsTruncated>
                  <Contents><Key>a/b &amp; c&#x2F;d&#233;.safetensors</Key><Size>12</Size></Contents>
                  <Contents><Key><![CDATA[x<y>]]></Key><Owner id='1>2'/></Contents>
                </ListBucketResult>
                """.utf8))
        let xml = try #require(listing)
        #expect(xml.all("ListBucketResult/Contents/Key") == ["a/b & c/dé.safetensors", "x<y>"])
        #expect(xml.first("ListBucketResult/IsTruncated") == "false")
        #expect(xml.first("ListBucketResult/Contents/Owner") == "")
        let error = try #require(S3XML(Array("<Error><Code>SlowDown</Code><Message>Reduce</Message></Error>".utf8)))
        #expect(error.first("Error/Code") == "SlowDown")
    }

    @Test(
        "Malformed documents are unreadable (nil), never a crash",
        arguments: [
            "", "   ", "<a>", "<a></b>", "<a></a><b></b>", "text<a></a>", "<a>&unknown;</a>", "<a>&#0;</a>",
            "<a>&#x110000;</a>", "<!DOCTYPE a [<!ENTITY e \"x\">]><a>&e;</a>", "<a><!-- open</a>", "<a b='1></a>",
            "<a><![CDATA[x</a>", "<?xml", "</a>", "<>", "<a>&amp</a>",
            // Found by scripts/fuzz s3xml: Foundation's XMLParser crashed on it.
            "<ListBucketRe:ult><IsTruncat\u{FFFD}ed><LitqtBru",
        ])
    func malformed(document: String) {
        #expect(S3XML(Array(document.utf8)) == nil)
    }

    @Test("Invalid UTF-8 and nesting past the limit are unreadable")
    func limits() {
        #expect(S3XML([0x3C, 0x61, 0x3E, 0xFF, 0x3C, 0x2F, 0x61, 0x3E]) == nil)
        let deep =
            String(repeating: "<a>", count: S3XML.maximumDepth + 1)
            + String(repeating: "</a>", count: S3XML.maximumDepth + 1)
        #expect(S3XML(Array(deep.utf8)) == nil)
        let allowed =
            String(repeating: "<a>", count: S3XML.maximumDepth) + String(repeating: "</a>", count: S3XML.maximumDepth)
        #expect(S3XML(Array(allowed.utf8)) != nil)
    }
}
