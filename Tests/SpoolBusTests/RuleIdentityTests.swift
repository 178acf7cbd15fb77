import Testing
@testable import SpoolBus

/// A rule's identity (which keeps its `concurrency=` lane across reloads) is what it matches and
/// runs, not its line or options; rules written alike are told apart by their order.
@Suite struct RuleIdentityTests {
    @Test func linesAboveAndEditedOptionsKeepARulesIdentity() throws {
        let before = try #require(ruleSet("a/* file concurrency=1 ./h/x.sh {name}\n"))
        let after = try #require(ruleSet("""
            b/* file ./h/y.sh
            # a comment
            a/* file concurrency=2 timeout=5s ./h/x.sh {name}

            """))
        #expect(before.rules[0].identity == after.rules[1].identity)
        #expect(before.rules[0].identity != after.rules[0].identity)
    }

    @Test func whatARuleMatchesOrRunsIsPartOfItsIdentity() throws {
        let rules = try #require(ruleSet("""
            a/* file ./h/x.sh
            a/* file,gone ./h/x.sh
            a/* file ./h/x.sh other
            b/* file ./h/x.sh

            """)).rules
        #expect(Set(rules.map(\.identity)).count == 4)
    }

    @Test func rulesWrittenAlikeAreToldApartByOrder() throws {
        let rules = try #require(ruleSet("a/* file ./h/x.sh\na/* file concurrency=1 ./h/x.sh\n")).rules
        #expect(rules.map(\.occurrence) == [1, 2])
        #expect(rules[0].identity != rules[1].identity)
    }
}
