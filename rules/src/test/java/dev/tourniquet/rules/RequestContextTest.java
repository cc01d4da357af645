package dev.tourniquet.rules;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Header lookup by server variable: the hash of a header name, which reads only its ends, agrees with the
 * hash of the variable suffix it stands for, however the name is spelled, non-ASCII characters included.
 */
class RequestContextTest {
  private static final List<String> NAMES = List.of("Host", "host", "User-Agent", "user_agent", "X-A", "x", "", "Cookie",
      "Accept-Language", "Accept-Encoding", "Sec-Fetch-Site", "Sec-Fetch-Mode", "X-\u0131", "\u0131d", "X-Fo\u00dfo-Bar",
      "Stra\u00dfe", "\u00df", "\u017Fec", "X-\u212Aey", "x-caf\u00e9", "\u00e9");

  @Test
  void everyHeaderNameThenHashesAsItsVariableSuffix() {
    for (String name : NAMES) {
      assertThat(RequestContext.suffixHash(name)).as(name)
          .isEqualTo(RequestContext.keyHash(RequestContext.variableSuffix(name), 0));
      assertThat(RequestContext.suffixHash(name)).as(name)
          .isEqualTo(RequestContext.keyHash("HTTP_" + RequestContext.variableSuffix(name), 5));
    }
  }

  @Test
  void headerNamesWithNonAsciiCharactersThenFoundByTheVariableTheyUpperCaseTo() {
    HttpRequest request = HttpRequest.of("GET", "/", List.of(new Header("X-Fo\u00dfo-Bar", "inner"),
        new Header("\u0131d", "dotless"), new Header("Stra\u00dfe", "end"), new Header("host", "a.example"),
        new Header("X-A", "one"), new Header("x_a", "two")));
    RequestContext ctx = RequestContext.of(request, null, Limits.DEFAULTS);
    assertThat(ctx.variable("HTTP_X_FOSSO_BAR")).isEqualTo("inner");
    assertThat(ctx.variable("HTTP_ID")).isEqualTo("dotless");
    assertThat(ctx.variable("HTTP_STRASSE")).isEqualTo("end");
    assertThat(ctx.variable("HTTP_HOST")).isEqualTo("a.example");
    assertThat(ctx.variable("HTTP_X_A")).isEqualTo("one, two");
    assertThat(ctx.variable("HTTP_X_B")).isEmpty();
  }
}
