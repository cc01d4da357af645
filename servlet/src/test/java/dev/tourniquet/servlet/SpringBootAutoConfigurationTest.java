package dev.tourniquet.servlet;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.springframework.boot.SpringBootConfiguration;
import org.springframework.boot.autoconfigure.EnableAutoConfiguration;
import org.springframework.boot.builder.SpringApplicationBuilder;
import org.springframework.boot.web.server.context.WebServerApplicationContext;
import org.springframework.context.ConfigurableApplicationContext;
import org.springframework.web.bind.annotation.GetMapping;
import org.springframework.web.bind.annotation.RestController;

/** A real Spring Boot application (embedded Tomcat, random port) with the module on its class path. */
class SpringBootAutoConfigurationTest {
  @TempDir
  Path dir;

  ConfigurableApplicationContext context;

  /** The application: answers every GET with "ok". */
  @SpringBootConfiguration
  @EnableAutoConfiguration
  @RestController
  static class App {
    @GetMapping("/**")
    String ok() {
      return "ok";
    }
  }

  int start(String... properties) {
    context = new SpringApplicationBuilder(App.class)
        .properties("server.port=0", "server.address=127.0.0.1", "spring.main.banner-mode=off")
        .properties(properties)
        .run();
    return ((WebServerApplicationContext) context).getWebServer().getPort();
  }

  @AfterEach
  void stop() {
    if (context != null) {
      context.close();
    }
  }

  @Test
  void propertyRegistersTheFilterInFrontOfTheApplication() throws Exception {
    Path file = dir.resolve("enforcement.json");
    Fixtures.file(Fixtures.requestRules("M1", Mode.ENFORCE, Fixtures.m1())).write(file);

    int port = start("tourniquet.enforcement-file=" + file);

    assertThat(Http.get(port, Fixtures.PROXYNOTSHELL).nothing()).isTrue();
    Http.Response owa = Http.get(port, "/owa/");
    assertThat(owa.status()).isEqualTo(200);
    assertThat(owa.body()).isEqualTo("ok");
    TourniquetFilter filter = context.getBean(TourniquetFilter.class);
    assertThat(filter.status().mitigations()).containsExactly("M1.1 enforce");
    assertThat(filter.hits()).containsExactly(new RuleHit("M1", 1, Mode.ENFORCE, Fixtures.M1_RULE, 1));
  }

  @Test
  void withoutThePropertyNothingIsRegistered() throws Exception {
    int port = start();

    assertThat(context.getBeansOfType(TourniquetFilter.class)).isEmpty();
    assertThat(Http.get(port, Fixtures.PROXYNOTSHELL).status()).isEqualTo(200);
  }
}
