extension TokenizerRegex {
    /// What one consuming step of a pattern accepts: a class, a property, `.`, or a letter in
    /// either case.
    enum ScalarTest: Sendable, Equatable {
        /// `.` under `(?m)`.
        case any
        /// `.`: anything but U+000A.
        case anyButNewline
        /// A scalar whose simple case fold is this one.
        case caseless(Unicode.Scalar)
        case property(Property, negated: Bool)
        case set(ScalarSet, negated: Bool)

        func accepts(_ scalar: Unicode.Scalar) -> Bool {
            switch self {
            case .any: return true
            case .anyButNewline: return scalar != "\n"
            case .caseless(let folded): return CaseFolding.fold(scalar) == folded
            case .property(let property, let negated): return property.contains(scalar) != negated
            case .set(let set, let negated): return set.contains(scalar) != negated
            }
        }

        /// The Unicode properties `\p{..}` names, and those behind `\s \d \w \h`, as Oniguruma
        /// defines them for Unicode text.
        enum Property: Sendable, Equatable {
            case categories(Set<Unicode.GeneralCategory>)
            /// `\s`: White_Space.
            case whiteSpace
            /// `\d`: Decimal_Number.
            case decimalDigit
            /// `\w`: letters, marks, decimal numbers, connector punctuation (and Latin-1's
            /// superscript digits and fractions).
            case word
            /// `\w` inside a class, where Oniguruma goes by the Unicode properties alone (no `½`).
            case wordInClass
            /// `\h`: 0-9, a-f, A-F.
            case hexDigit
            case alphabetic
            case uppercase
            case lowercase
            case emoji
            case emojiPresentation
            case ascii
            case anything

            func contains(_ scalar: Unicode.Scalar) -> Bool {
                let properties = scalar.properties
                switch self {
                case .categories(let categories): return categories.contains(properties.generalCategory)
                case .whiteSpace: return properties.isWhitespace
                case .decimalDigit: return properties.generalCategory == .decimalNumber
                case .word: return Self.isWord(scalar)
                case .wordInClass: return !Self.latin1Word.contains(scalar.value) && Self.isWord(scalar)
                case .hexDigit: return properties.isASCIIHexDigit
                case .alphabetic: return properties.isAlphabetic
                case .uppercase: return properties.isUppercase
                case .lowercase: return properties.isLowercase
                case .emoji: return properties.isEmoji
                case .emojiPresentation: return properties.isEmojiPresentation
                case .ascii: return scalar.isASCII
                case .anything: return true
                }
            }

            /// Oniguruma's Word: Alphabetic, Mark, Decimal_Number, Connector_Punctuation, and
            /// (its Latin-1 table says so) `¹ ² ³ ¼ ½ ¾`.
            static func isWord(_ scalar: Unicode.Scalar) -> Bool {
                if scalar.isASCII {
                    return ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
                        || ("0"..."9").contains(scalar) || scalar == "_"
                }
                if latin1Word.contains(scalar.value) { return true }
                let properties = scalar.properties
                switch properties.generalCategory {
                case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
                default: return properties.isAlphabetic
                }
            }

            /// What Oniguruma's Latin-1 table calls a word character beyond the Unicode properties.
            private static let latin1Word: Set<UInt32> = [0xB2, 0xB3, 0xB9, 0xBC, 0xBD, 0xBE]

            /// The property `\p{name}` means: a general category by its short name (`L`, `Lu`,
            /// `Nd`...) or its long major name (`Letter`...), or one of a few binary properties;
            /// case, spaces, hyphens and underscores ignored as Oniguruma does.
            init?(named name: String) {
                let key = String(name.lowercased().filter { $0 != "_" && $0 != " " && $0 != "-" })
                if let binary = Self.binary[key] {
                    self = binary
                    return
                }
                let groups: [String: [Unicode.GeneralCategory]] = [
                    "l": [.uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter],
                    "m": [.nonspacingMark, .spacingMark, .enclosingMark],
                    "n": [.decimalNumber, .letterNumber, .otherNumber],
                    "p": [
                        .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation,
                        .initialPunctuation, .finalPunctuation, .otherPunctuation,
                    ],
                    "s": [.mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol],
                    "z": [.spaceSeparator, .lineSeparator, .paragraphSeparator],
                    "c": [.control, .format, .surrogate, .privateUse, .unassigned],
                ]
                let longNames = [
                    "letter": "l", "mark": "m", "number": "n", "punctuation": "p", "symbol": "s", "separator": "z",
                    "other": "c",
                ]
                let single: [String: Unicode.GeneralCategory] = [
                    "lu": .uppercaseLetter, "ll": .lowercaseLetter, "lt": .titlecaseLetter, "lm": .modifierLetter,
                    "lo": .otherLetter, "mn": .nonspacingMark, "mc": .spacingMark, "me": .enclosingMark,
                    "nd": .decimalNumber, "nl": .letterNumber, "no": .otherNumber, "pc": .connectorPunctuation,
                    "pd": .dashPunctuation, "ps": .openPunctuation, "pe": .closePunctuation,
                    "pi": .initialPunctuation, "pf": .finalPunctuation, "po": .otherPunctuation, "sm": .mathSymbol,
                    "sc": .currencySymbol, "sk": .modifierSymbol, "so": .otherSymbol, "zs": .spaceSeparator,
                    "zl": .lineSeparator, "zp": .paragraphSeparator, "cc": .control, "cf": .format,
                    "cs": .surrogate, "co": .privateUse, "cn": .unassigned,
                ]
                if let group = groups[longNames[key] ?? key] {
                    self = .categories(Set(group))
                } else if let category = single[key] {
                    self = .categories([category])
                } else {
                    return nil
                }
            }

            private static let binary: [String: Property] = [
                "alphabetic": .alphabetic, "alpha": .alphabetic, "whitespace": .whiteSpace, "space": .whiteSpace,
                "uppercase": .uppercase, "upper": .uppercase, "lowercase": .lowercase, "lower": .lowercase,
                "emoji": .emoji, "emojipresentation": .emojiPresentation, "ascii": .ascii, "any": .anything,
            ]
        }

        /// A bracketed class's ranges and class escapes (`[a-z\d]`).
        struct ScalarSet: Sendable, Equatable {
            let ranges: [ClosedRange<UInt32>]
            let members: [ScalarTest]
            /// Under `(?i)`: a scalar belongs when its fold or other case does.
            let caseless: Bool

            func contains(_ scalar: Unicode.Scalar) -> Bool {
                if holds(scalar) { return true }
                guard caseless, CaseFolding.hasOtherCase(scalar) else { return false }
                return CaseFolding.variants(of: scalar).contains { holds($0) }
            }

            private func holds(_ scalar: Unicode.Scalar) -> Bool {
                ranges.contains { $0.contains(scalar.value) } || members.contains { $0.accepts(scalar) }
            }
        }
    }

    /// Simple (one scalar to one scalar) case folding, from the standard library's case mappings.
    enum CaseFolding {
        /// Whether `scalar` has another case at all.
        static func hasOtherCase(_ scalar: Unicode.Scalar) -> Bool {
            scalar.isASCII
                ? ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
                : scalar.properties.changesWhenCaseMapped
        }

        /// `scalar` lowered after raising (so `ς`, `σ` and `Σ` all give `σ`, and the Kelvin sign `k`),
        /// or itself when either mapping gives more than one scalar.
        static func fold(_ scalar: Unicode.Scalar) -> Unicode.Scalar {
            if scalar.isASCII {
                return ("A"..."Z").contains(scalar) ? Unicode.Scalar(scalar.value + 32) ?? scalar : scalar
            }
            guard scalar.properties.changesWhenCaseMapped else { return scalar }
            let folded = fullFold(scalar)
            return folded.count == 1 ? folded[0] : scalar
        }

        /// Whether `scalar`'s full fold is one scalar (`ß`'s is "ss", `İ`'s "i̇").
        static func foldsToOneScalar(_ scalar: Unicode.Scalar) -> Bool {
            guard hasOtherCase(scalar), !scalar.isASCII else { return true }
            return fullFold(scalar).count == 1
        }

        /// The fold and both cases of `scalar` that are one scalar each.
        static func variants(of scalar: Unicode.Scalar) -> [Unicode.Scalar] {
            let properties = scalar.properties
            return [fold(scalar)]
                + [properties.uppercaseMapping, properties.lowercaseMapping].compactMap { mapping in
                    mapping.unicodeScalars.count == 1 ? mapping.unicodeScalars.first : nil
                }
        }

        private static func fullFold(_ scalar: Unicode.Scalar) -> [Unicode.Scalar] {
            Array(scalar.properties.uppercaseMapping.lowercased().unicodeScalars)
        }
    }
}
