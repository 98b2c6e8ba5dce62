package io.usher.client;

import io.usher.protocol.ProtocolException;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class StartupOptionsTest {

    // -c name=value, -cname=value and --name=value; a backslash escapes a space
    @Test
    void theThreeSpellingsAndEscapes() throws Exception {
        assertThat(StartupOptions.parse("-c search_path=a -csearch_path=b --work-mem=4MB"))
                .containsEntry("search_path", "b").containsEntry("work_mem", "4MB").hasSize(2);
        assertThat(StartupOptions.parse("  -c application_name=my\\ app  ")).containsEntry("application_name", "my app");
        assertThat(StartupOptions.parse("")).isEmpty();
    }

    // anything that is not a setting is refused
    @Test
    void whatIsNotASettingIsRefused() {
        assertThatThrownBy(() -> StartupOptions.parse("-c")).isInstanceOf(ProtocolException.class);
        assertThatThrownBy(() -> StartupOptions.parse("-B 100")).isInstanceOf(ProtocolException.class);
        assertThatThrownBy(() -> StartupOptions.parse("-c novalue")).isInstanceOf(ProtocolException.class);
    }
}
