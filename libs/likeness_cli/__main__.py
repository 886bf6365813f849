from likeness_cli.main import app

app(prog_name="likeness")
