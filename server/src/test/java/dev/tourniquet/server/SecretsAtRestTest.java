package dev.tourniquet.server;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * No secret the server issued is stored as given: every text column of every table of the fleet's
 * PostgreSQL schema is searched for each token, credential and session cookie after they were used.
 */
class SecretsAtRestTest {
  @TempDir
  Path dir;

  @Test
  void tokensCredentialsAndSessionsAreStoredOnlyAsHashes() throws Exception {
    try (Fixture fleet = new Fixture(dir, Backend.postgres())) {
      String enrolment = fleet.enrolmentToken();
      HttpResponse<String> enrolled = fleet.post("/api/v1/enrol", null, "{\"token\":\"" + enrolment
          + "\",\"server\":\"web-01\"}");
      String credential = Fixture.json(enrolled).get("credential").asText();
      String unused = fleet.enrolmentToken();
      String user = fleet.user("olga", "operator");
      String cookie = fleet.session(user);
      String session = cookie.substring(cookie.indexOf('=') + 1);
      assertThat(fleet.policy(credential).get("blocked")).isEmpty();

      List<String> stored = new ArrayList<>();
      String url = fleet.backend.jdbcUrl().orElseThrow();
      try (Connection c = DriverManager.getConnection(url); Statement s = c.createStatement()) {
        List<String[]> columns = new ArrayList<>();
        try (ResultSet rs = s.executeQuery("SELECT table_name, column_name FROM information_schema.columns"
            + " WHERE table_schema = current_schema() AND data_type IN ('character varying', 'text')")) {
          while (rs.next()) {
            columns.add(new String[] {rs.getString(1), rs.getString(2)});
          }
        }
        assertThat(columns).hasSizeGreaterThan(20);
        for (String[] col : columns) {
          try (ResultSet rs = s.executeQuery("SELECT " + col[1] + " FROM " + col[0])) {
            while (rs.next()) {
              if (rs.getString(1) != null) {
                stored.add(rs.getString(1));
              }
            }
          }
        }
      }
      for (String secret : List.of(enrolment, unused, credential, user, fleet.adminToken, session)) {
        String body = secret.substring(4);
        assertThat(stored).as("a stored value containing a secret").noneMatch(v -> v.contains(body));
        assertThat(stored).as("the SHA-256 of each secret is stored").contains(Secrets.hash(secret));
      }
    }
  }
}
