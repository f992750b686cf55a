// WhatsApp <-> Chatwoot formatting: one named case per behaviour, then the
// guarantees (linear time on hostile input, UTF-8 in -> UTF-8 out, no
// exceptions) checked on pathological and randomly generated text.
#include "bridge/whatsapp_markdown.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

using namespace chatwoot::bridge;

namespace {

struct Case {
    const char* name;
    std::string_view in;
    std::string_view out;
};

std::string case_name(const testing::TestParamInfo<Case>& info)
{
    return info.param.name;
}

bool valid_utf8(std::string_view s)
{
    std::size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        std::size_t len = 0;
        std::uint32_t cp = 0;
        if (c < 0x80) {
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
            cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            cp = c & 0x07;
        } else {
            return false;
        }
        if (s.size() - i < len) {
            return false;
        }
        for (std::size_t k = 1; k < len; k++) {
            const auto b = static_cast<unsigned char>(s[i + k]);
            if ((b & 0xC0) != 0x80) {
                return false;
            }
            cp = (cp << 6) | (b & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF)) {
            return false;
        }
        i += len;
    }
    return true;
}

// ---------------------------------------------------------------------------
// WhatsApp -> Chatwoot

class WhatsappToChatwootMarkdown : public testing::TestWithParam<Case> {};

TEST_P(WhatsappToChatwootMarkdown, Converts)
{
    EXPECT_EQ(whatsapp_to_chatwoot(GetParam().in), GetParam().out) << "input: " << GetParam().in;
}

const Case kWhatsAppCases[] = {
    {"Empty", "", ""},
    {"PlainTextUnchanged", "Olá, tudo bem?", "Olá, tudo bem?"},
    {"BoldBecomesDoubleAsterisk", "*bold*", "**bold**"},
    {"ItalicBecomesSingleAsterisk", "_italic_", "*italic*"},
    {"StrikeBecomesDoubleTilde", "~strike~", "~~strike~~"},
    {"MonospaceKept", "```mono```", "```mono```"},
    {"InlineCodeKept", "`inline`", "`inline`"},
    {"NoFormattingInsideInlineCode", "`*a* _b_ ~c~`", "`*a* _b_ ~c~`"},
    {"NoFormattingInsideMonospace", "```*a* _b_```", "```*a* _b_```"},
    {"FormattingAroundInlineCode", "*see `x_y`*", "**see `x_y`**"},
    {"UnpairedBacktickIsText", "`a *b*", "`a **b**"},
    {"InlineCodeDoesNotSpanLines", "`a\n*b*`", "`a\n**b**`"},
    {"QuoteLineKept", "> *quoted* text", "> **quoted** text"},
    {"BulletListsKept", "* one\n- two *b*", "* one\n- two **b**"},
    {"NumberedListKept", "1. one\n2. _two_", "1. one\n2. *two*"},
    {"MultiWordContent", "*hello big world*", "**hello big world**"},
    {"SeveralPairsOnALine", "*a* and _b_ and ~c~", "**a** and *b* and ~~c~~"},
    {"BoldAroundItalic", "*_x_*", "***x***"},
    {"ItalicAroundBold", "_*x*_", "***x***"},
    {"StrikeAroundBold", "~*x*~", "~~**x**~~"},
    {"NestedInsideLongerSpan", "*a _b_ c*", "**a *b* c**"},
    {"PunctuationIsABoundary", "(*a*), *b*! \"_c_\".", "(**a**), **b**! \"*c*\"."},
    {"OpenerNeedsBoundaryBefore", "a*b* c", "a*b* c"},
    {"CloserNeedsBoundaryAfter", "*a*b c", "*a*b c"},
    {"OpenerFollowedBySpaceIsText", "* a*", "* a*"},
    {"CloserPrecededBySpaceIsText", "*a *", "*a *"},
    {"EmptyPairIsText", "a ** b __ c ~~", "a ** b __ c ~~"},
    {"DoubledMarkersLeftAsTyped", "**a** __init__ ~~x~~", "**a** __init__ ~~x~~"},
    {"NoPairAcrossNewline", "*a\nb*", "*a\nb*"},
    {"EachLinePairsOnItsOwn", "*a*\n_b_", "**a**\n*b*"},
    {"FirstCloserWins", "*a* b*", "**a** b*"},
    {"UnclosedMarkerIsText", "*a and _b", "*a and _b"},
    {"MultiplicationLeftAlone", "2*3*4 = 24", "2*3*4 = 24"},
    {"SnakeCaseUntouched", "my_var_name and x_y_z", "my_var_name and x_y_z"},
    {"EmailUntouched", "write to first_last@example.com now",
     "write to first_last@example.com now"},
    {"UrlUntouched", "https://example.com/a_b_c", "https://example.com/a_b_c"},
    {"UrlWithMarkerPairsUntouched", "see https://example.com/_a_/*b* ok",
     "see https://example.com/_a_/*b* ok"},
    {"WwwUrlUntouched", "www.example.com/~a~", "www.example.com/~a~"},
    {"UrlInsideBold", "*https://x.io/a_b*", "**https://x.io/a_b**"},
    {"AccentedWordsFormatted", "*olá* _ação_ ~não~", "**olá** *ação* ~~não~~"},
    {"AccentedLetterBeforeMarkerBlocks", "é*x* ç_y_", "é*x* ç_y_"},
    {"AccentedLetterAfterMarkerBlocks", "*x*é", "*x*é"},
    {"EmojiBeforeAndAfterMarkers", "😀*x*😀 🙏_obrigado_🙏",
     "😀**x**😀 🙏*obrigado*🙏"},
    {"EmojiAsContent", "*😀* _👍🏽_", "**😀** *👍🏽*"},
    {"MultilineMonospaceGetsOwnFences", "```a\nb```", "```\na\nb\n```"},
    {"MultilineMonospaceMidLine", "x ```a\nb``` y", "x \n```\na\nb\n```\n y"},
    {"MultilineMonospaceAlreadyOnOwnLines", "```\ncode\n```", "```\ncode\n```"},
    {"NoFormattingInsideMultilineMonospace", "```*a*\n_b_```", "```\n*a*\n_b_\n```"},
    {"CarriageReturnIsWhitespace", "*a*\r\nb", "**a**\r\nb"},
};

INSTANTIATE_TEST_SUITE_P(Cases, WhatsappToChatwootMarkdown, testing::ValuesIn(kWhatsAppCases),
                         case_name);

// ---------------------------------------------------------------------------
// Chatwoot -> WhatsApp

class ChatwootToWhatsappMarkdown : public testing::TestWithParam<Case> {};

TEST_P(ChatwootToWhatsappMarkdown, Converts)
{
    EXPECT_EQ(chatwoot_to_whatsapp(GetParam().in), GetParam().out) << "input: " << GetParam().in;
}

const Case kChatwootCases[] = {
    {"Empty", "", ""},
    {"PlainTextUnchanged", "Olá, já verifiquei o pedido.", "Olá, já verifiquei o pedido."},
    {"BoldAsterisks", "**bold**", "*bold*"},
    {"BoldUnderscores", "__bold__", "*bold*"},
    {"ItalicAsterisk", "*italic*", "_italic_"},
    {"ItalicUnderscore", "_italic_", "_italic_"},
    {"Strike", "~~gone~~", "~gone~"},
    {"BoldItalic", "***both***", "_*both*_"},
    {"ItalicInsideBold", "**bold _it_ more**", "*bold _it_ more*"},
    {"InlineCodeKept", "`a *b* c`", "`a *b* c`"},
    {"DoubleBacktickCodeKept", "``a ` b``", "``a ` b``"},
    {"FencedBlockKeptInfoDropped", "```js\nlet a = *b*;\n```", "```\nlet a = *b*;\n```"},
    {"TildeFenceBecomesBackticks", "~~~\n**x**\n~~~", "```\n**x**\n```"},
    {"UnclosedFenceIsClosed", "```\ncode", "```\ncode\n```"},
    {"LinkBecomesTextAndUrl", "[Chatwoot](https://www.chatwoot.com)",
     "Chatwoot (https://www.chatwoot.com)"},
    {"LinkWithSameTextIsJustUrl", "[https://a.io](https://a.io)", "https://a.io"},
    {"LinkTitleDropped", "[a](https://a.io \"Title\")", "a (https://a.io)"},
    {"LinkWithAngleDestination", "[a](<https://a.io/x y>)", "a (https://a.io/x y)"},
    {"LinkWithParenthesesInUrl", "[w](https://en.wikipedia.org/wiki/Foo_(bar))",
     "w (https://en.wikipedia.org/wiki/Foo_(bar))"},
    {"LinkWithFormattedText", "[**a**](https://a.io)", "*a* (https://a.io)"},
    {"LinkInsideBold", "**see [a](https://a.io)**", "*see a (https://a.io)*"},
    {"EmptyLinkTextIsUrl", "[](https://a.io)", "https://a.io"},
    {"BracketsWithoutLinkAreText", "[a] (b) [c]", "[a] (b) [c]"},
    {"AutolinkUnwrapped", "<https://a.io>", "https://a.io"},
    {"EmailAutolinkUnwrapped", "<ana@acme.test>", "ana@acme.test"},
    {"AngleTextIsNotAutolink", "a <b> c", "a <b> c"},
    {"ImageBecomesAltAndUrl", "![logo](https://a.io/l.png)", "logo (https://a.io/l.png)"},
    {"MentionKeepsOnlyTheName", "[@Ana Lima](mention://user/1/Ana%20Lima) hi", "@Ana Lima hi"},
    {"HeadingBecomesBold", "# Title", "*Title*"},
    {"HeadingClosingHashesDropped", "### Sub ###", "*Sub*"},
    {"HeadingBoldInsideMerged", "## **Big** _news_", "*Big _news_*"},
    {"EmptyHeadingIsEmptyLine", "#", ""},
    {"HashtagIsNotHeading", "#promo today", "#promo today"},
    {"EscapesRemoved", "\\*not\\* \\_x\\_ \\# \\[a\\] \\\\", "*not* _x_ # [a] \\"},
    {"BackslashBeforeLetterKept", "C:\\Users\\ana", "C:\\Users\\ana"},
    {"HardBreakBackslash", "a\\\nb", "a\nb"},
    {"EditorEmptyLineBackslash", "a\n\\\nb", "a\n\nb"},
    {"EscapedBackslashAtLineEndKept", "a\\\\\nb", "a\\\nb"},
    {"TrailingBackslashAtEndKept", "C:\\", "C:\\"},
    {"TrailingSpacesHardBreak", "a  \nb", "a\nb"},
    {"BlankLinesKept", "a\n\nb", "a\n\nb"},
    {"CrLfBecomesLf", "**a**\r\nb", "*a*\nb"},
    {"BulletListKept", "* one\n* two *it*", "* one\n* two _it_"},
    {"DashListKept", "- a\n- **b**", "- a\n- *b*"},
    {"NumberedListKept", "1. a\n2. __b__", "1. a\n2. *b*"},
    {"QuoteKept", "> **q**", "> *q*"},
    {"ThematicBreakKept", "---", "---"},
    {"BoldAcrossLinesSplitPerLine", "**a\nb** c", "*a*\n*b* c"},
    {"BoldAcrossQuoteLines", "> **a\n> b**", "> *a*\n> *b*"},
    {"BoldAcrossHardBreak", "**a\\\nb**", "*a*\n*b*"},
    {"BoldDoesNotCrossListItems", "- **a\n- b**", "- **a\n- b**"},
    {"IntrawordEmphasisLeftAsTyped", "a**b**c and 2*3*4", "a**b**c and 2*3*4"},
    {"IntrawordUnderscoreIsText", "my_var_name", "my_var_name"},
    {"UrlsUntouched", "https://x.io/_a_ and https://x.io/a_b_c",
     "https://x.io/_a_ and https://x.io/a_b_c"},
    {"UrlInsideBold", "**https://x.io**", "*https://x.io*"},
    {"StrayAsterisksKept", "5 * 3 = 15, note*", "5 * 3 = 15, note*"},
    {"SingleTildeIsText", "~x~ ~~~y~~~", "~x~ ~~~y~~~"},
    {"AccentsAndEmojiAroundEmphasis", "**ação**😀 _olá_! 👍🏽**ok**",
     "*ação*😀 _olá_! 👍🏽*ok*"},
};

INSTANTIATE_TEST_SUITE_P(Cases, ChatwootToWhatsappMarkdown, testing::ValuesIn(kChatwootCases),
                         case_name);

// A WhatsApp message that went to Chatwoot and an agent's copy of it coming
// back must look the same on WhatsApp.
TEST(MarkdownRoundTrip, WhatsAppFormattingSurvivesBothWays)
{
    for (std::string_view wa : {
             "*bold* _italic_ ~strike~",
             "~*both*~ and `code`",
             "Pedido *123* _confirmado_ ✅",
             "> quote\n* item\n- item\n1. item",
             "snake_case https://example.com/a_b_c",
         }) {
        EXPECT_EQ(chatwoot_to_whatsapp(whatsapp_to_chatwoot(wa)), wa);
    }
}

// ---------------------------------------------------------------------------
// Guarantees: linear time, sane output size, total on any bytes.

using Converter = std::function<std::string(std::string_view)>;

const std::vector<std::pair<const char*, Converter>>& converters()
{
    static const std::vector<std::pair<const char*, Converter>> all = {
        {"whatsapp_to_chatwoot", [](std::string_view s) { return whatsapp_to_chatwoot(s); }},
        {"chatwoot_to_whatsapp", [](std::string_view s) { return chatwoot_to_whatsapp(s); }},
    };
    return all;
}

std::string repeat(std::string_view unit, std::size_t total = 100 * 1024)
{
    std::string s;
    s.reserve(total + unit.size());
    while (s.size() < total) {
        s.append(unit);
    }
    return s;
}

// Backtick runs of every length 1, 2, 3, ...: the classic quadratic case
// for code-span matching.
std::string growing_backtick_runs()
{
    std::string s;
    for (std::size_t len = 1; s.size() < 100 * 1024; len++) {
        s.append(len, '`');
        s += 'a';
    }
    return s;
}

// Generous for Debug + sanitizers: a linear pass over 100 KB takes
// milliseconds, a quadratic one minutes.
constexpr auto kTimeLimit = std::chrono::seconds(3);

void expect_fast_and_sane(const char* label, const std::string& input)
{
    for (const auto& [name, convert] : converters()) {
        const auto start = std::chrono::steady_clock::now();
        const std::string out = convert(input);
        const auto elapsed = std::chrono::steady_clock::now() - start;
        EXPECT_LT(elapsed, kTimeLimit) << name << " on " << label;
        EXPECT_LE(out.size(), 3 * input.size() + 16) << name << " on " << label;
        EXPECT_TRUE(valid_utf8(out)) << name << " on " << label;
    }
}

TEST(MarkdownLinearTime, HundredKilobytesOfAsterisks) { expect_fast_and_sane("*", repeat("*")); }
TEST(MarkdownLinearTime, HundredKilobytesOfUnderscores) { expect_fast_and_sane("_", repeat("_")); }
TEST(MarkdownLinearTime, HundredKilobytesOfTildes) { expect_fast_and_sane("~", repeat("~")); }

TEST(MarkdownLinearTime, MarkerSoups)
{
    for (std::string_view unit : {"*_", "*a ", "a* ", "_a ", "a_ ", "**a ", "a** ", "*a _b ~c ",
                                  "*_~", " *", "* ", "_*a", "~~a ", "***a", "a***", "*a*b",
                                  "_a_b", "*😀 ", "ç_", "**a*", "*a**"}) {
        expect_fast_and_sane(std::string(unit).c_str(), repeat(unit));
    }
}

TEST(MarkdownLinearTime, ManyPairsOnOneLine)
{
    expect_fast_and_sane("*x* _y_ ~z~ ", repeat("*x* _y_ ~z~ "));
    expect_fast_and_sane("**x** __y__ ~~z~~ ", repeat("**x** __y__ ~~z~~ "));
}

TEST(MarkdownLinearTime, BackticksAndCode)
{
    expect_fast_and_sane("`", repeat("`"));
    expect_fast_and_sane("` a", repeat("` a"));
    expect_fast_and_sane("```a", repeat("```a"));
    expect_fast_and_sane("```\\n", repeat("```\n"));
    expect_fast_and_sane("growing runs", growing_backtick_runs());
    expect_fast_and_sane("\\`", repeat("\\`"));
}

TEST(MarkdownLinearTime, BracketsAndLinks)
{
    for (std::string_view unit : {"[", "]", "[a](", "[](x (", "[](x \"", "[a](b", "![", "![a](",
                                  "[a]", "[a](<", "[]([]((", "(", "<", "<a", "<a:", "[x](y)"}) {
        expect_fast_and_sane(std::string(unit).c_str(), repeat(unit));
    }
}

TEST(MarkdownLinearTime, LinesAndBlocks)
{
    for (std::string_view unit : {"*a\n", "**a\n", "> **a\n", "- *a\n", "# *a\n", "\\\n", "\n",
                                  "```\n", "~~~\n", "a  \n", "> ", "1. ", "\r\n"}) {
        expect_fast_and_sane(std::string(unit).c_str(), repeat(unit));
    }
}

TEST(MarkdownLinearTime, UrlsAndBackslashes)
{
    for (std::string_view unit : {"https://", "https://a", "www.", " https://x.io/a_b_",
                                  "http://(((", "\\", "\\*"}) {
        expect_fast_and_sane(std::string(unit).c_str(), repeat(unit));
    }
}

TEST(MarkdownLinearTime, OneHundredKilobyteLineWithoutMarkers)
{
    expect_fast_and_sane("plain", repeat("Olá mundo ção 😀 "));
}

// ---------------------------------------------------------------------------
// UTF-8: markers next to multi-byte characters, and random text.

TEST(MarkdownUtf8, MarkersNextToMultibyteCharactersKeepThemWhole)
{
    const std::string wa = "*ação*😀_é_🙏~ñ~ 日本*語* 👍🏽";
    const std::string cw = whatsapp_to_chatwoot(wa);
    EXPECT_TRUE(valid_utf8(cw));
    EXPECT_EQ(cw, "**ação**😀*é*🙏~~ñ~~ 日本*語* 👍🏽");
    const std::string back = chatwoot_to_whatsapp(cw);
    EXPECT_TRUE(valid_utf8(back));
    EXPECT_EQ(back, "*ação*😀_é_🙏~ñ~ 日本*語* 👍🏽");
}

// A small deterministic generator (no dependence on the platform's
// std::rand or distributions).
class Lcg {
public:
    explicit Lcg(std::uint64_t seed) : state_(seed) {}
    std::uint32_t next()
    {
        state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
        return static_cast<std::uint32_t>(state_ >> 33);
    }

private:
    std::uint64_t state_;
};

const std::vector<std::string_view> kTokens = {
    "*", "_", "~", "`", "```", "[", "]", "(", ")", "!", "<", ">", "\\", "\n", " ", "#", "> ",
    "- ", "* ", "1. ", "a", "b", "é", "ção", "😀", "👍🏽", "日本", "https://x.io/a_b",
    "www.a.b",
    "@", "ab_cd", "**", "__", "~~", "\t", "\r\n", ".", ",", "\"", "mention://u/1", "\xC2\xA0",
};

std::string random_text(Lcg& rng, std::size_t tokens, bool backticks)
{
    std::string s;
    for (std::size_t i = 0; i < tokens; i++) {
        const std::string_view t = kTokens[rng.next() % kTokens.size()];
        if (!backticks && t.find('`') != std::string_view::npos) {
            continue;
        }
        s.append(t);
    }
    return s;
}

std::string without_markers(std::string_view s)
{
    std::string out;
    for (char c : s) {
        if (c != '*' && c != '_' && c != '~') {
            out += c;
        }
    }
    return out;
}

TEST(MarkdownUtf8, RandomTextStaysValidUtf8BothWays)
{
    Lcg rng(20260620);
    for (int round = 0; round < 400; round++) {
        const std::string in = random_text(rng, 1 + rng.next() % 300, true);
        ASSERT_TRUE(valid_utf8(in));
        for (const auto& [name, convert] : converters()) {
            std::string out;
            ASSERT_NO_THROW(out = convert(in)) << name;
            ASSERT_TRUE(valid_utf8(out)) << name << " on: " << in;
            ASSERT_LE(out.size(), 3 * in.size() + 16) << name;
        }
    }
}

// WhatsApp -> Chatwoot only rewrites markers: without code blocks (whose
// fences may move to their own lines) the text minus '*', '_' and '~' is
// exactly what was sent.
TEST(MarkdownUtf8, WhatsAppToChatwootChangesOnlyMarkers)
{
    Lcg rng(7);
    for (int round = 0; round < 400; round++) {
        const std::string in = random_text(rng, 1 + rng.next() % 300, false);
        EXPECT_EQ(without_markers(whatsapp_to_chatwoot(in)), without_markers(in)) << in;
    }
}

TEST(MarkdownUtf8, ArbitraryBytesNeverThrow)
{
    Lcg rng(99);
    const std::string_view specials = "*_~`[]()!<>\\\n #>-";
    for (int round = 0; round < 300; round++) {
        std::string in;
        const std::size_t len = rng.next() % 400;
        for (std::size_t i = 0; i < len; i++) {
            const std::uint32_t r = rng.next();
            in += (r & 1) ? specials[(r >> 1) % specials.size()] : static_cast<char>(r >> 8);
        }
        for (const auto& [name, convert] : converters()) {
            std::string out;
            ASSERT_NO_THROW(out = convert(in)) << name;
            ASSERT_LE(out.size(), 3 * in.size() + 16) << name;
        }
    }
}

}  // namespace
