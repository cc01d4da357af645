package dev.tourniquet.feed.tuf;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class CanonicalJsonTest {
  private static String canonical(String json) throws Exception {
    return new String(CanonicalJson.encode(Json.parseObject("t", json.getBytes(StandardCharsets.UTF_8))),
        StandardCharsets.UTF_8);
  }

  @Test
  void keysAreSortedAndWhitespaceRemoved() throws Exception {
    assertThat(canonical("{ \"b\" : [1, true, null], \"a\" : {\"d\": -3, \"c\": \"x\"} }"))
        .isEqualTo("{\"a\":{\"c\":\"x\",\"d\":-3},\"b\":[1,true,null]}");
  }

  @Test
  void stringsEscapeOnlyQuoteAndBackslashAndKeepNewlinesRaw() throws Exception {
    assertThat(canonical("{\"k\": \"a\\\"b\\\\c\\nd\\u00e9\\t\"}"))
        .isEqualTo("{\"k\":\"a\\\"b\\\\c\nd\u00e9\t\"}");
  }

  @Test
  void keysSortByCodePointNotByUtf16Unit() throws Exception {
    // U+FF5E sorts before U+1F600 by code point, after it by UTF-16 unit.
    assertThat(canonical("{\"\\ud83d\\ude00\": 1, \"\\uff5e\": 2}")).isEqualTo("{\"\uff5e\":2,\"\ud83d\ude00\":1}");
  }

  @Test
  void floatingPointNumbersHaveNoCanonicalForm() {
    assertThatThrownBy(() -> canonical("{\"v\": 1.5}")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("expected an integer but found the number 1.5");
  }

  @Test
  void unpairedSurrogateHasNoCanonicalFormRatherThanTheBytesOfAQuestionMark() {
    assertThatThrownBy(() -> canonical("{\"k\": \"a\\ud800b\"}")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("expected a string of Unicode characters but found the unpaired surrogate U+D800");
    assertThatThrownBy(() -> canonical("{\"k\": [\"\\udfff\\ud800\"]}")).isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("the unpaired surrogate U+DFFF");
  }

  @Test
  void largeIntegersKeepEveryDigit() throws Exception {
    assertThat(canonical("{\"v\": 123456789012345678901234567890}")).isEqualTo("{\"v\":123456789012345678901234567890}");
  }
}
